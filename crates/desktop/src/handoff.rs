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

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The owner lock's file name in the data directory.
pub const LOCK_FILE: &str = "owner.lock";
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
        std::fs::create_dir_all(data_dir)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(data_dir.join(LOCK_FILE))?;
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
