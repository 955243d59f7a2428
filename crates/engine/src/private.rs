//! Files only the user may read. Presently's data directory holds the store (subjects, body
//! previews, attendees), the logs (the UPN) and the owner lock; another local user must
//! not read them. On Unix every directory Presently creates for itself is `0700` and every
//! file `0600`, and what an older version left more open is tightened when Presently
//! starts ([`tighten`]). On Windows the default ACLs of the user's profile
//! (`%LOCALAPPDATA%`, `%APPDATA%`) already grant only the user, SYSTEM and administrators,
//! so these functions create files as usual there.
//!
//! A file Presently does not own (a configuration file an administrator shares, named by
//! `PRESENTLY_CONFIG`) cannot be tightened: that is logged, never an error.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode of Presently's directories.
pub const DIR_MODE: u32 = 0o700;
/// The mode of Presently's files.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` when it does not exist: its missing parents as the platform makes them,
/// `dir` itself private. An existing directory is left as it is (see [`tighten`]).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    match builder.create(dir) {
        Ok(()) => Ok(()),
        // Created by another process meanwhile: tighten it like any existing one.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Open options that create a file readable and writable by the user only.
pub fn open_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Creates `file` empty and private when it does not exist (so that what writes it next —
/// SQLite, which gives its `-wal` and `-shm` files the database's mode — finds it
/// private); tightens it when it does.
pub fn create_file(file: &Path) -> io::Result<()> {
    match open_options().write(true).create_new(true).open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => tighten(file).map(|_| ()),
        Err(e) => Err(e),
    }
}

/// Opens (creating) `file` for appending, private.
pub fn append(file: &Path) -> io::Result<File> {
    let f = open_options().append(true).create(true).open(file)?;
    tighten(file)?;
    Ok(f)
}

/// Takes the group's and others' permissions away from an existing file or directory.
/// Answers whether it changed anything; a path that does not exist is `Ok(false)`. A path
/// owned by someone else (the chmod is refused) is logged and `Ok(false)`.
pub fn tighten(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        // A symbolic link is not followed: its target is not Presently's to change.
        if meta.file_type().is_symlink() {
            return Ok(false);
        }
        let mode = meta.permissions().mode() & 0o7777;
        // A shared directory (sticky, such as /tmp) named as a data directory is not
        // Presently's to close.
        if mode & 0o077 == 0 || (meta.is_dir() && mode & 0o1000 != 0) {
            return Ok(false);
        }
        let private = mode & !0o077;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(private)) {
            Ok(()) => {
                tracing::info!(path = %path.display(), from = format!("{mode:o}"), to = format!("{private:o}"), "made private");
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "cannot make this file private: it belongs to someone else");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        // The profile's default ACLs already keep other users out.
        let _ = path;
        Ok(false)
    }
}

/// [`tighten`] on every entry of `dir` whose name starts with `prefix` (log files), and on
/// `dir` itself. Errors on single entries are logged, not returned.
pub fn tighten_dir_entries(dir: &Path, prefix: &str) {
    let _ = tighten(dir);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            if let Err(e) = tighten(&entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot make this file private");
            }
        }
    }
}

/// The permission bits of `path` (Unix), for tests and checks.
#[cfg(unix)]
pub fn mode(path: &Path) -> io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn directories_and_files_are_created_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a").join("presently");
        create_dir(&data).unwrap();
        assert_eq!(mode(&data).unwrap(), 0o700);
        let file = data.join("presently.db");
        create_file(&file).unwrap();
        assert_eq!(mode(&file).unwrap(), 0o600);
        let log = data.join("x.log");
        drop(append(&log).unwrap());
        assert_eq!(mode(&log).unwrap(), 0o600);
    }

    #[test]
    fn what_an_older_version_left_open_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("presently");
        std::fs::create_dir(&data).unwrap();
        set(&data, 0o755);
        let store = data.join("presently.db");
        std::fs::write(&store, "x").unwrap();
        set(&store, 0o644);
        create_dir(&data).unwrap();
        assert_eq!(
            mode(&data).unwrap(),
            0o755,
            "create_dir leaves an existing one"
        );
        tighten(&data).unwrap();
        create_file(&store).unwrap();
        assert_eq!(mode(&data).unwrap(), 0o700);
        assert_eq!(mode(&store).unwrap(), 0o600);
        assert_eq!(std::fs::read_to_string(&store).unwrap(), "x", "kept");
        // Nothing to do: no change reported.
        assert!(!tighten(&store).unwrap());
        assert!(!tighten(&data.join("missing")).unwrap());
    }

    #[test]
    fn a_shared_sticky_directory_is_left_open() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("tmp");
        std::fs::create_dir(&shared).unwrap();
        set(&shared, 0o1777);
        assert!(!tighten(&shared).unwrap());
        assert_eq!(mode(&shared).unwrap(), 0o1777);
    }

    #[test]
    fn a_symbolic_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        set(&target, 0o644);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(!tighten(&link).unwrap());
        assert_eq!(mode(&target).unwrap(), 0o644);
    }
}
