//! Which process runs the background work: sync, presence automation, reminders and the
//! tray. On Linux two programs share it:
//!
//! - the window app (`presently-app`, Tauri with WebKitGTK) while its window is open, and
//! - the tray host (`presently-tray`, no GUI toolkit: a D-Bus StatusNotifierItem and D-Bus
//!   notifications) while it is not. WebKitGTK keeps well over 100 MiB mapped in any process
//!   that ever had a webview; the tray host stays near 20 MiB.
//!
//! Exactly one of them owns the work at a time. Ownership is an exclusive lock on
//! `owner.lock` in the data directory (released by the OS when the owner exits, also when it
//! crashes); the file holds the owner's process id. The tray host listens on `tray.sock`
//! beside it: a window app that starts while the host owns the work sends [`HANDOVER`]; the
//! host stops its loops, lets go of the lock, answers [`HANDED_OVER`] and exits. When the
//! window closes, the app starts the host, stops its own loops and exits; the host waits
//! for the lock, which goes with the app's process.
//!
//! Both live in the data directory, which is private to the user (`0700`; see
//! `presently_engine::private`): another local user can neither take the lock (and so stop
//! the tray host and the hand-over) nor talk to the socket. The lock is `0600`, the socket
//! too, and the host checks that whoever connects is the same user (`SO_PEERCRED`), reads
//! at most [`MAX_REQUEST`] bytes for at most [`REQUEST_TIMEOUT`], and does so off the
//! loop that serves the tray menu.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The owner lock's file name in the data directory.
pub const LOCK_FILE: &str = presently_engine::paths::LOCK_FILE;
/// The tray host's control socket in the data directory.
pub const SOCKET_FILE: &str = "tray.sock";
/// What the window app sends to the tray host.
pub const HANDOVER: &str = "handover";
/// What the tray host answers once it let go of the lock.
pub const HANDED_OVER: &str = "handed-over";
/// The tray host's program name (beside the window app's).
pub const TRAY_HOST: &str = "presently-tray";
/// The window app's program name (beside the tray host's).
pub const WINDOW_APP: &str = "presently-app";
/// The tray host's argument to wait for the lock (the window app is exiting) instead of
/// leaving when another process holds it.
pub const WAIT_ARG: &str = "--wait-for-lock";
/// Set to `0` to keep the window app in the tray itself after its window closes.
pub const ENV_SWITCH: &str = "PRESENTLY_TRAY_HOST";

/// Holding it means owning the background work; dropping it (or exiting) lets go.
#[derive(Debug)]
pub struct OwnerLock {
    _file: File,
}

impl OwnerLock {
    /// Takes the lock if nobody holds it, and writes this process's id into it.
    pub fn try_acquire(data_dir: &Path) -> std::io::Result<Option<Self>> {
        presently_engine::private::create_dir(data_dir)?;
        presently_engine::private::tighten(data_dir)?;
        let path = data_dir.join(LOCK_FILE);
        let mut file = presently_engine::private::open_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        // One left by an older version may be readable by others.
        presently_engine::private::tighten(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(e),
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(Some(Self { _file: file }))
    }

    /// Tries for the lock until `within` has passed (the holder is on its way out).
    pub fn acquire_within(data_dir: &Path, within: Duration) -> std::io::Result<Option<Self>> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(lock) = Self::try_acquire(data_dir)? {
                return Ok(Some(lock));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The process id written by the lock's holder (or its last holder: check the lock).
pub fn owner_pid(data_dir: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(data_dir.join(LOCK_FILE))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    text.trim().parse().ok()
}

/// Whether some process holds the lock now.
pub fn is_owned(data_dir: &Path) -> bool {
    let Ok(file) = File::open(data_dir.join(LOCK_FILE)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// The tray host's control socket.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// A sibling program of the running one (`presently-tray` beside `presently-app`).
pub fn sibling(program: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.with_file_name(format!("{program}{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

/// Whether the window app hands the background work to the tray host when its window
/// closes: on Linux (elsewhere the webview's processes end with the window), outside demo
/// mode (whose emulator lives in the app), with the host installed beside the app, unless
/// `PRESENTLY_TRAY_HOST=0`.
pub fn tray_host_for(demo: bool) -> Option<PathBuf> {
    if !cfg!(target_os = "linux") || demo {
        return None;
    }
    if std::env::var(ENV_SWITCH).is_ok_and(|v| v == "0") {
        return None;
    }
    sibling(TRAY_HOST)
}

/// The longest request the tray host reads from its control socket.
pub const MAX_REQUEST: usize = 64;
/// How long the tray host waits for a connection's request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Binds the tray host's control socket in `data_dir` (a file left by a host that crashed
/// goes first: the caller holds the owner lock), private to the user.
#[cfg(unix)]
pub fn bind_control_socket(data_dir: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(data_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Why a connection to the control socket was turned away.
#[derive(Debug, thiserror::Error)]
pub enum RequestRefused {
    #[error("a process of another user (uid {peer}) connected")]
    OtherUser { peer: u32 },
    #[error("cannot tell who connected: {0}")]
    Credentials(std::io::Error),
    #[error("the request is longer than {MAX_REQUEST} bytes")]
    TooLong,
    #[error("no request within {REQUEST_TIMEOUT:?}")]
    Timeout,
    #[error("reading the request failed: {0}")]
    Io(std::io::Error),
    #[error("unknown request {0:?}")]
    Unknown(String),
}

/// Reads a hand-over request from `stream` and answers the stream back to reply on: only
/// from a process of `uid` (the user the host runs as), at most [`MAX_REQUEST`] bytes up
/// to the first newline, within [`REQUEST_TIMEOUT`].
#[cfg(unix)]
pub async fn read_request(
    mut stream: tokio::net::UnixStream,
    uid: u32,
) -> Result<tokio::net::UnixStream, RequestRefused> {
    use tokio::io::AsyncReadExt;
    let peer = stream
        .peer_cred()
        .map_err(RequestRefused::Credentials)?
        .uid();
    if peer != uid {
        return Err(RequestRefused::OtherUser { peer });
    }
    let read = async {
        let mut request = Vec::with_capacity(MAX_REQUEST);
        let mut byte = [0u8; 1];
        loop {
            // Byte by byte: nothing after the newline is consumed, and a request is short.
            match stream.read(&mut byte).await.map_err(RequestRefused::Io)? {
                0 => break,
                _ if byte[0] == b'\n' => break,
                _ if request.len() == MAX_REQUEST => return Err(RequestRefused::TooLong),
                _ => request.push(byte[0]),
            }
        }
        Ok(String::from_utf8_lossy(&request).trim().to_owned())
    };
    let request = tokio::time::timeout(REQUEST_TIMEOUT, read)
        .await
        .map_err(|_| RequestRefused::Timeout)??;
    if request == HANDOVER {
        Ok(stream)
    } else {
        Err(RequestRefused::Unknown(request))
    }
}

/// The user this process runs as, from a file it just created (the standard library does
/// not expose `getuid`, and the workspace forbids `unsafe`).
#[cfg(unix)]
pub fn own_uid(created: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(created)?.uid())
}

/// Errors of the hand-over.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("the tray host did not answer on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the tray host answered {0:?} instead of {HANDED_OVER:?}")]
    Answer(String),
    #[error("the tray host did not hand over within {0:?}")]
    Timeout(Duration),
}

/// Asks the tray host to stop and let go of the lock; returns once it answered. `Ok(false)`
/// when no host listens (nobody to ask).
#[cfg(unix)]
pub async fn request_handover(data_dir: &Path, within: Duration) -> Result<bool, HandoffError> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let path = socket_path(data_dir);
    let io = |source| HandoffError::Io {
        path: path.display().to_string(),
        source,
    };
    let exchange = async {
        let mut stream = match tokio::net::UnixStream::connect(&path).await {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(io(e)),
        };
        stream
            .write_all(format!("{HANDOVER}\n").as_bytes())
            .await
            .map_err(io)?;
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .await
            .map_err(io)?;
        match answer.trim() {
            HANDED_OVER => Ok(true),
            other => Err(HandoffError::Answer(other.to_owned())),
        }
    };
    tokio::time::timeout(within, exchange)
        .await
        .map_err(|_| HandoffError::Timeout(within))?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_owner_at_a_time_and_the_lock_goes_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_owned(dir.path()));
        let first = OwnerLock::try_acquire(dir.path()).unwrap().expect("free");
        assert!(is_owned(dir.path()));
        assert_eq!(owner_pid(dir.path()), Some(std::process::id()));
        assert!(OwnerLock::try_acquire(dir.path()).unwrap().is_none());
        let started = Instant::now();
        assert!(
            OwnerLock::acquire_within(dir.path(), Duration::from_millis(100))
                .unwrap()
                .is_none()
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
        drop(first);
        assert!(!is_owned(dir.path()));
        let second = OwnerLock::try_acquire(dir.path()).unwrap();
        assert!(second.is_some());
    }

    #[tokio::test]
    async fn a_handover_waits_for_the_answer_and_nobody_listening_is_not_an_error() {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let dir = tempfile::tempdir().unwrap();
        assert!(!request_handover(dir.path(), Duration::from_secs(1))
            .await
            .unwrap());

        let listener = tokio::net::UnixListener::bind(socket_path(dir.path())).unwrap();
        let host = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            BufReader::new(read).read_line(&mut line).await.unwrap();
            write
                .write_all(format!("{HANDED_OVER}\n").as_bytes())
                .await
                .unwrap();
            line
        });
        assert!(request_handover(dir.path(), Duration::from_secs(5))
            .await
            .unwrap());
        assert_eq!(host.await.unwrap().trim(), HANDOVER);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_lock_and_its_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("presently");
        let lock = OwnerLock::try_acquire(&data).unwrap().expect("free");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(LOCK_FILE)), 0o600);
        drop(lock);
        // What an older version left open is closed when the lock is taken.
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(data.join(LOCK_FILE), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let _lock = OwnerLock::try_acquire(&data).unwrap().expect("free");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(LOCK_FILE)), 0o600);
        let listener = bind_control_socket(&data);
        assert!(listener.is_ok());
        assert_eq!(mode(&socket_path(&data)), 0o600);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_host_reads_a_bounded_request_from_its_own_user_only() {
        use tokio::io::AsyncWriteExt;
        let dir = tempfile::tempdir().unwrap();
        let listener = bind_control_socket(dir.path()).unwrap();
        let uid = own_uid(&socket_path(dir.path())).unwrap();
        let path = socket_path(dir.path());

        // The hand-over: the stream comes back to answer on.
        let mut client = tokio::net::UnixStream::connect(&path).await.unwrap();
        client.write_all(b"handover\n").await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        assert!(read_request(stream, uid).await.is_ok());

        // An endless line is cut at MAX_REQUEST bytes, not read for two seconds.
        let mut client = tokio::net::UnixStream::connect(&path).await.unwrap();
        let writer = tokio::spawn(async move {
            let _ = client.write_all(&vec![b'x'; 1 << 20]).await;
            client
        });
        let (stream, _) = listener.accept().await.unwrap();
        let started = Instant::now();
        let err = read_request(stream, uid).await.unwrap_err();
        assert!(matches!(err, RequestRefused::TooLong), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
        writer.abort();

        // Silence ends at the deadline.
        let _silent = tokio::net::UnixStream::connect(&path).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let err = read_request(stream, uid).await.unwrap_err();
        assert!(matches!(err, RequestRefused::Timeout), "{err}");

        // Another user's process (as the socket's owner sees it: another uid) is refused.
        let mut client = tokio::net::UnixStream::connect(&path).await.unwrap();
        client.write_all(b"handover\n").await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let err = read_request(stream, uid.wrapping_add(1)).await.unwrap_err();
        assert!(matches!(err, RequestRefused::OtherUser { .. }), "{err}");

        // Anything else is not a hand-over.
        let mut client = tokio::net::UnixStream::connect(&path).await.unwrap();
        client.write_all(b"quit\n").await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let err = read_request(stream, uid).await.unwrap_err();
        assert!(
            matches!(err, RequestRefused::Unknown(ref r) if r == "quit"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_host_that_does_not_answer_is_a_timeout_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::UnixListener::bind(socket_path(dir.path())).unwrap();
        let _held = tokio::spawn(async move {
            let (_stream, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await
        });
        let err = request_handover(dir.path(), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, HandoffError::Timeout(_)), "{err}");
    }
}
