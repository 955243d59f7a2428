//! A configured program run without a shell: `on_args` (with `{target}`, `{extension}`)
//! to forward, `off_args` to stop. A non-zero exit is an error carrying the start of its
//! standard error; the state in force cannot be read. The write's idempotency key is in the
//! environment variable [`IDEMPOTENCY_KEY_VAR`]: a run with a key seen before repeats a
//! write whose outcome Presently lost (a crash while the program ran).

use super::{bounded, render, CommandConfig, ForwardingError, ForwardingProvider};
use crate::presence::profile::Forwarding;
use futures::future::BoxFuture;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Standard error kept for the message.
const MAX_STDERR: usize = 4096;

/// The environment variable carrying the write's idempotency key.
pub const IDEMPOTENCY_KEY_VAR: &str = "PRESENTLY_IDEMPOTENCY_KEY";

pub struct CommandProvider {
    config: CommandConfig,
    timeout: Duration,
}

impl CommandProvider {
    pub fn new(config: CommandConfig, timeout: Duration) -> Self {
        Self { config, timeout }
    }

    fn error(&self, detail: impl Into<String>) -> ForwardingError {
        ForwardingError::Command {
            program: self.config.program.clone(),
            detail: detail.into(),
        }
    }

    /// The arguments for `setting`, placeholders filled in.
    pub fn args(&self, setting: &Forwarding) -> Vec<String> {
        let (args, target) = match setting {
            Forwarding::Off => (&self.config.off_args, ""),
            Forwarding::Voicemail => (&self.config.on_args, self.config.voicemail.as_str()),
            Forwarding::Number(n) => (&self.config.on_args, n.as_str()),
        };
        let vars = [
            ("target", target),
            ("extension", self.config.extension.as_str()),
        ];
        args.iter()
            .map(|a| render(a, &vars, str::to_owned))
            .collect()
    }

    async fn run(&self, args: Vec<String>, key: &str) -> Result<(), ForwardingError> {
        let mut child = tokio::process::Command::new(&self.config.program)
            .args(&args)
            .env(IDEMPOTENCY_KEY_VAR, key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.error(format!("cannot start it: {e}")))?;
        let mut stderr = child.stderr.take();
        let work = async {
            // Read all of it (a full pipe would block the program), keep the start.
            let mut kept = Vec::new();
            if let Some(err) = stderr.as_mut() {
                let mut buf = [0u8; 4096];
                loop {
                    match err.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let room = MAX_STDERR.saturating_sub(kept.len());
                            kept.extend_from_slice(&buf[..n.min(room)]);
                        }
                    }
                }
            }
            let status = child.wait().await;
            (status, kept)
        };
        let (status, kept) = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| {
                self.error(format!(
                    "it did not finish within {} s and was stopped",
                    self.timeout.as_secs()
                ))
            })?;
        let status = status.map_err(|e| self.error(format!("waiting for it failed: {e}")))?;
        if status.success() {
            return Ok(());
        }
        let stderr = bounded(&String::from_utf8_lossy(&kept), 500);
        let how = match status.code() {
            Some(code) => format!("it exited with status {code}"),
            None => "it was killed by a signal".to_owned(),
        };
        Err(self.error(if stderr.is_empty() {
            how
        } else {
            format!("{how}: {stderr}")
        }))
    }
}

impl ForwardingProvider for CommandProvider {
    fn name(&self) -> &'static str {
        "forwarding command"
    }

    fn apply<'a>(
        &'a self,
        setting: &'a Forwarding,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), ForwardingError>> {
        Box::pin(async move { self.run(self.args(setting), key).await })
    }

    fn can_read(&self) -> bool {
        false
    }

    fn current<'a>(&'a self) -> BoxFuture<'a, Result<Option<Forwarding>, ForwardingError>> {
        Box::pin(async { Ok(None) })
    }
}
