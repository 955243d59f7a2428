//! Asterisk / FreePBX through the Asterisk Manager Interface: one TCP connection per
//! switch or read, `Action: Login` (the secret from the keyring entry `provider:ami`),
//! then `DBPut` `<family>/<extension>` = target (forward), `DBDel` (off) or `DBGet`
//! (read), then `Logoff`. Unsolicited events (`Event: FullyBooted`, ...) are skipped while
//! reading a response; responses are matched by `ActionID`; the whole exchange is bounded
//! by the provider's timeout.

use super::{
    load_secret, render, AmiConfig, ForwardingError, ForwardingProvider, SecretStore, AMI_SECRET,
};
use crate::presence::profile::Forwarding;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

const NAME: &str = "Asterisk AMI";
/// Longest line and most lines accepted in one packet.
const MAX_LINE: usize = 8192;
const MAX_LINES: usize = 256;
/// Most packets read while waiting for one response.
const MAX_PACKETS: usize = 1000;

type Packet = Vec<(String, String)>;

fn field<'a>(p: &'a Packet, name: &str) -> Option<&'a str> {
    p.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn protocol(detail: impl Into<String>) -> ForwardingError {
    ForwardingError::Protocol {
        provider: NAME,
        detail: detail.into(),
    }
}

struct Conn {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    next_id: u32,
}

impl Conn {
    async fn open(host: &str, port: u16) -> Result<Self, ForwardingError> {
        let sock =
            TcpStream::connect((host, port))
                .await
                .map_err(|e| ForwardingError::Unreachable {
                    provider: NAME,
                    detail: format!("{host}:{port}: {e}"),
                })?;
        let _ = sock.set_nodelay(true);
        let (rd, wr) = sock.into_split();
        let mut conn = Self {
            rd: BufReader::new(rd),
            wr,
            next_id: 0,
        };
        let banner = conn
            .line()
            .await?
            .ok_or_else(|| protocol("the connection closed before the banner"))?;
        if !banner.contains("Call Manager") {
            return Err(protocol(format!(
                "{host}:{port} is not an Asterisk Manager Interface (banner {:?})",
                super::bounded(&banner, 80)
            )));
        }
        Ok(conn)
    }

    /// One line without its line end; None at the end of the stream.
    async fn line(&mut self) -> Result<Option<String>, ForwardingError> {
        let mut buf = Vec::new();
        let n = (&mut self.rd)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| ForwardingError::Unreachable {
                provider: NAME,
                detail: e.to_string(),
            })?;
        if n == 0 {
            return Ok(None);
        }
        if buf.len() > MAX_LINE {
            return Err(protocol("a line is too long"));
        }
        let text = String::from_utf8_lossy(&buf);
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    /// One packet: `Key: Value` lines up to an empty line.
    async fn packet(&mut self) -> Result<Packet, ForwardingError> {
        let mut p = Packet::new();
        loop {
            let Some(line) = self.line().await? else {
                return Err(protocol(
                    "the connection closed in the middle of an exchange",
                ));
            };
            if line.is_empty() {
                if p.is_empty() {
                    continue;
                }
                return Ok(p);
            }
            if p.len() >= MAX_LINES {
                return Err(protocol("a packet is too long"));
            }
            match line.split_once(':') {
                Some((k, v)) => p.push((k.trim().to_owned(), v.trim().to_owned())),
                None => p.push((line.trim().to_owned(), String::new())),
            }
        }
    }

    /// Sends an action; returns its ActionID.
    async fn send(
        &mut self,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Result<String, ForwardingError> {
        self.next_id += 1;
        let id = format!("presently-{}-{}", std::process::id(), self.next_id);
        let mut out = format!("Action: {action}\r\nActionID: {id}\r\n");
        for (k, v) in fields {
            if v.contains(['\r', '\n']) {
                return Err(ForwardingError::Config(format!(
                    "{NAME}: {k} must not contain a line break"
                )));
            }
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        self.wr
            .write_all(out.as_bytes())
            .await
            .map_err(|e| ForwardingError::Unreachable {
                provider: NAME,
                detail: e.to_string(),
            })?;
        Ok(id)
    }

    /// The response to `id`, skipping events and other actions' responses.
    async fn response(&mut self, id: &str) -> Result<Packet, ForwardingError> {
        for _ in 0..MAX_PACKETS {
            let p = self.packet().await?;
            if field(&p, "Event").is_some() {
                continue;
            }
            if field(&p, "Response").is_some() && field(&p, "ActionID").is_none_or(|a| a == id) {
                return Ok(p);
            }
        }
        Err(protocol("no response among too many packets"))
    }

    /// `DBGet`: the value, None when there is no entry.
    async fn db_get(&mut self, family: &str, key: &str) -> Result<Option<String>, ForwardingError> {
        let id = self
            .send("DBGet", &[("Family", family), ("Key", key)])
            .await?;
        let r = self.response(&id).await?;
        if !is_success(&r) {
            let msg = field(&r, "Message").unwrap_or("");
            if msg.to_ascii_lowercase().contains("not found") {
                return Ok(None);
            }
            return Err(refused(&r, "DBGet"));
        }
        let mut value = None;
        for _ in 0..MAX_PACKETS {
            let p = self.packet().await?;
            if field(&p, "ActionID").is_some_and(|a| a != id) {
                continue;
            }
            match field(&p, "Event") {
                Some(e) if e.eq_ignore_ascii_case("DBGetResponse") => {
                    value = field(&p, "Val").map(str::to_owned);
                }
                Some(e) if e.eq_ignore_ascii_case("DBGetComplete") => return Ok(value),
                _ => {}
            }
        }
        Err(protocol("DBGet: no DBGetComplete among too many packets"))
    }

    async fn logoff(&mut self) {
        // Best effort: the answer is not needed.
        let _ = self.send("Logoff", &[]).await;
        let _ = self.wr.shutdown().await;
    }
}

fn is_success(p: &Packet) -> bool {
    field(p, "Response").is_some_and(|r| r.eq_ignore_ascii_case("Success"))
}

fn refused(p: &Packet, action: &str) -> ForwardingError {
    ForwardingError::Refused {
        provider: NAME,
        status: None,
        detail: format!(
            "{action}: {}",
            field(p, "Message").unwrap_or("error without a message")
        ),
    }
}

pub struct AmiProvider {
    config: AmiConfig,
    secrets: Arc<dyn SecretStore>,
    timeout: Duration,
}

impl AmiProvider {
    pub fn new(config: AmiConfig, secrets: Arc<dyn SecretStore>, timeout: Duration) -> Self {
        Self {
            config,
            secrets,
            timeout,
        }
    }

    /// The target meaning voicemail.
    pub fn voicemail_target(&self) -> String {
        render(
            &self.config.voicemail,
            &[("extension", &self.config.extension)],
            str::to_owned,
        )
    }

    /// Connects and logs in, runs `f`, logs off; all within the timeout.
    async fn session<T>(
        &self,
        f: impl for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, ForwardingError>>,
    ) -> Result<T, ForwardingError> {
        let secret = load_secret(&self.secrets, NAME, AMI_SECRET).await?;
        let work = async {
            let mut conn = Conn::open(&self.config.host, self.config.port).await?;
            let id = conn
                .send(
                    "Login",
                    &[
                        ("Username", self.config.username.as_str()),
                        ("Secret", secret.expose_secret()),
                    ],
                )
                .await?;
            let r = conn.response(&id).await?;
            if !is_success(&r) {
                return Err(ForwardingError::Unauthorized {
                    provider: NAME,
                    detail: format!(
                        "login as {:?}: {}",
                        self.config.username,
                        field(&r, "Message").unwrap_or("refused")
                    ),
                });
            }
            let out = f(&mut conn).await;
            conn.logoff().await;
            out
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ForwardingError::Timeout {
                provider: NAME,
                secs: self.timeout.as_secs(),
            })?
    }
}

impl ForwardingProvider for AmiProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply<'a>(
        &'a self,
        setting: &'a Forwarding,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<(), ForwardingError>> {
        // DBPut and DBDel set a value: repeating one is harmless, and a lost outcome is
        // checked by reading back (DBGet).
        let family = self.config.family.clone();
        let key = self.config.extension.clone();
        let target = match setting {
            Forwarding::Off => None,
            Forwarding::Voicemail => Some(self.voicemail_target()),
            Forwarding::Number(n) => Some(n.clone()),
        };
        Box::pin(self.session(move |conn| {
            Box::pin(async move {
                match target {
                    Some(val) => {
                        let id = conn
                            .send(
                                "DBPut",
                                &[("Family", &family), ("Key", &key), ("Val", &val)],
                            )
                            .await?;
                        let r = conn.response(&id).await?;
                        if is_success(&r) {
                            Ok(())
                        } else {
                            Err(refused(&r, "DBPut"))
                        }
                    }
                    None => {
                        let id = conn
                            .send("DBDel", &[("Family", &family), ("Key", &key)])
                            .await?;
                        let r = conn.response(&id).await?;
                        let msg = field(&r, "Message").unwrap_or("").to_ascii_lowercase();
                        // No entry: forwarding is off already.
                        if is_success(&r) || msg.contains("not found") {
                            Ok(())
                        } else {
                            Err(refused(&r, "DBDel"))
                        }
                    }
                }
            })
        }))
    }

    fn can_read(&self) -> bool {
        true
    }

    fn current<'a>(&'a self) -> BoxFuture<'a, Result<Option<Forwarding>, ForwardingError>> {
        let family = self.config.family.clone();
        let key = self.config.extension.clone();
        let voicemail = self.voicemail_target();
        Box::pin(async move {
            let val = self
                .session(move |conn| Box::pin(async move { conn.db_get(&family, &key).await }))
                .await?;
            Ok(Some(match val {
                None => Forwarding::Off,
                Some(v) if v.is_empty() => Forwarding::Off,
                Some(v) if v == voicemail => Forwarding::Voicemail,
                Some(v) => Forwarding::Number(v),
            }))
        })
    }
}
