//! Keys and secrets: from a file only the service account can read (mode 0600 or
//! stricter), or from an environment variable. Their content is never logged.

use crate::error::ServerError;
use secrecy::SecretString;
use std::path::Path;

/// Reads a secret file, refusing one that others can read or write.
pub fn read_secret_file(path: &Path, what: &str) -> Result<SecretString, ServerError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ServerError::Secret(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ServerError::Secret(format!(
                "the {what} file {} has mode {mode:04o}: others can read it; run `chmod 600 {}` (it must be readable by the service account only)",
                path.display(),
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(|e| {
        ServerError::Secret(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ServerError::Secret(format!(
            "the {what} file {} is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(text.to_owned()))
}

/// Reads a secret from the environment variable `name`.
pub fn read_secret_env(name: &str, what: &str) -> Result<SecretString, ServerError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_owned())),
        Ok(_) => Err(ServerError::Secret(format!(
            "the environment variable {name} (the {what}) is empty"
        ))),
        Err(_) => Err(ServerError::Secret(format!(
            "the environment variable {name} (the {what}) is not set"
        ))),
    }
}
