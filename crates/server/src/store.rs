//! The server's PostgreSQL store: versioned migrations, the mailboxes and their leases, and
//! each mailbox's sync state and appointments.
//!
//! Every change is one transaction, and every write for a mailbox first checks, in that
//! transaction, that the writer's lease is still the current one (its fencing token, owner
//! and expiry; the row is locked `FOR SHARE` so no claim can slip in before the commit). A
//! worker that was paused or partitioned past its lease therefore cannot apply anything
//! afterwards: its write is refused with [`ServerError::Fenced`].
//!
//! As in the client's SQLite store, the sync state advances only with the data: a page's
//! changes and the link to the next page (or the new delta link) commit together; a full
//! round's pages are staged and replace the mailbox's appointments when the round completes.

use crate::error::ServerError;
use chrono::{DateTime, Utc};
use presently_engine::graph::EventChange;
use presently_engine::model::{Appointment, When};
use presently_engine::presence::journal::{entry_from_row, Durable, Persist};
use presently_engine::store::{PresenceJournalRow, RoundKind, SyncState};
use presently_engine::Clock;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Transaction};

/// One versioned migration, applied once, in order, in a transaction.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub description: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "mailboxes with leases, sync state, appointments, sync history",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "workers and when each was last seen",
        sql: include_str!("../migrations/0002_workers.sql"),
    },
    Migration {
        version: 3,
        description: "presence automation: driver state, journal of writes, history",
        sql: include_str!("../migrations/0003_presence.sql"),
    },
    Migration {
        version: 4,
        description: "change notifications: each mailbox's Graph subscription",
        sql: include_str!("../migrations/0004_subscriptions.sql"),
    },
    Migration {
        version: 5,
        description: "users' time zones from their mailbox settings",
        sql: include_str!("../migrations/0005_time_zones.sql"),
    },
];

/// The channel of `LISTEN/NOTIFY` on which a notification's holder is woken.
pub const WAKE_CHANNEL: &str = "presently_mailbox";

/// A mailbox's subscription as the table holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    pub mailbox: String,
    pub id: String,
    pub client_state: String,
    pub expires_at: DateTime<Utc>,
}

/// A row of `SELECT mailbox_id, id, client_state, expires_at FROM subscriptions`.
fn stored_subscription(r: &tokio_postgres::Row) -> StoredSubscription {
    StoredSubscription {
        mailbox: r.get(0),
        id: r.get(1),
        client_state: r.get(2),
        expires_at: r.get(3),
    }
}

impl std::fmt::Debug for StoredSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client state is a secret: never printed.
        f.debug_struct("StoredSubscription")
            .field("mailbox", &self.mailbox)
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What the `LISTEN` connection hands the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// A `NOTIFY` payload.
    Payload(String),
    /// The listening connection was (re)opened: notifications sent meanwhile may be lost.
    Reconnected,
}

/// Serializes migrations across workers starting at once (an arbitrary, fixed key).
const MIGRATION_LOCK: i64 = 0x5052_4553_454e_544c;

/// A worker's claim on a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub mailbox: String,
    pub worker: String,
    /// Incremented by every claim of the mailbox; checked by every write.
    pub token: i64,
    pub expires_at: DateTime<Utc>,
}

/// A mailbox as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxStatus {
    pub id: String,
    pub enabled: bool,
    pub owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub fencing_token: i64,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub appointments: i64,
}

/// Presence automation of one worker, as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceSummary {
    /// The worker holding the mailboxes (`None`: mailboxes nobody holds now).
    pub worker: Option<String>,
    /// Mailboxes where automation holds something: a restore is to come.
    pub holding: i64,
    /// Writes stored and not yet known to have landed (pending or in flight).
    pub open_writes: i64,
    /// Profiles applied and users' own states given back, as the history counts them
    /// (by the worker that wrote them).
    pub applied: i64,
    pub restored: i64,
}

/// One completed round, from `sync_history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecord {
    pub mailbox: String,
    pub finished_at: DateTime<Utc>,
    pub round: String,
    pub pages: i32,
    pub upserted: i32,
    pub removed: i32,
    pub worker: String,
    pub fencing_token: i64,
}

/// What a page changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageStats {
    pub upserted: usize,
    pub removed: usize,
}

fn round_name(kind: RoundKind) -> &'static str {
    match kind {
        RoundKind::Full => "full",
        RoundKind::Incremental => "incremental",
        RoundKind::Initial => "initial",
    }
}

fn parse_round(name: &str) -> Option<RoundKind> {
    match name {
        "full" => Some(RoundKind::Full),
        "incremental" => Some(RoundKind::Incremental),
        "initial" => Some(RoundKind::Initial),
        _ => None,
    }
}

/// The span an appointment covers, as stored (an all-day one from midnight UTC).
fn span(appointment: &Appointment) -> (DateTime<Utc>, DateTime<Utc>) {
    match appointment.when {
        When::Timed { start, end } => (start, end),
        When::AllDay { start, end } => (
            start.and_time(chrono::NaiveTime::MIN).and_utc(),
            end.and_time(chrono::NaiveTime::MIN).and_utc(),
        ),
    }
}

/// The server's store on a few PostgreSQL connections (`[database] connections`), each
/// opened again when it was lost (the database restarted or the network dropped it).
///
/// The connections are shared by two lanes: this handle's (the lease loop, sync rounds,
/// the webhook), which may hold at most `connections - reserved` of them at once once
/// [`Store::reserve_for_presence`] set a reserve, and presence automation's
/// ([`Store::presence_lane`]), which may use any of them. So however many sync rounds run
/// at once (with batched polls, up to 20 × `concurrent_batches`), a presence step never
/// waits behind them for a connection.
pub struct Store {
    clients: Arc<Vec<tokio::sync::Mutex<Client>>>,
    /// Where the next search for a free connection starts.
    next: Arc<std::sync::atomic::AtomicUsize>,
    /// This lane's cap on the connections it holds at once (`None`: any, the presence lane
    /// or a store without a reserve).
    lane: Option<Arc<tokio::sync::Semaphore>>,
    config: tokio_postgres::Config,
    tls: DbTls,
    clock: Arc<dyn Clock>,
    target: String,
}

/// How the connections are secured: as the connection string's `sslmode` says. `require`
/// is TLS with the server's certificate verified (against `[database] ca_file`, else the
/// public certificate authorities) and its name checked: what libpq calls `verify-full`,
/// since a connection that is encrypted to whoever answers protects nothing. Otherwise
/// plain TCP (a `prefer` never tries TLS: a server that offers it with a certificate the
/// worker cannot verify must not turn a working setup into a failing one).
#[derive(Clone)]
enum DbTls {
    Off,
    Verified(tokio_postgres_rustls::MakeRustlsConnect),
}

impl DbTls {
    fn for_config(
        config: &tokio_postgres::Config,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, ServerError> {
        if config.get_ssl_mode() != tokio_postgres::config::SslMode::Require {
            return Ok(DbTls::Off);
        }
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                use rustls::pki_types::pem::PemObject as _;
                let bad = |message: String| ServerError::Config {
                    path: "database.ca_file".into(),
                    message,
                };
                let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                    .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        bad(format!(
                            "{} holds no PEM certificates ({e})",
                            path.display()
                        ))
                    })?;
                let (added, _ignored) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(bad(format!(
                        "{} holds no certificate that can be trusted",
                        path.display()
                    )));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Config {
                path: "database".into(),
                message: format!("TLS: {e}"),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(DbTls::Verified(
            tokio_postgres_rustls::MakeRustlsConnect::new(tls),
        ))
    }
}

/// The messages a connection receives besides query results (notifications, notices);
/// polling them drives the connection.
type Messages = std::pin::Pin<
    Box<
        dyn futures::Stream<Item = Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>>
            + Send,
    >,
>;

/// Opens one connection, securing it as `tls` says.
async fn connect_raw(
    config: &tokio_postgres::Config,
    tls: &DbTls,
) -> Result<(Client, Messages), tokio_postgres::Error> {
    Ok(match tls {
        DbTls::Off => {
            let (client, mut connection) = config.connect(NoTls).await?;
            let messages: Messages = Box::pin(futures::stream::poll_fn(move |cx| {
                connection.poll_message(cx)
            }));
            (client, messages)
        }
        DbTls::Verified(make) => {
            let (client, mut connection) = config.connect(make.clone()).await?;
            let messages: Messages = Box::pin(futures::stream::poll_fn(move |cx| {
                connection.poll_message(cx)
            }));
            (client, messages)
        }
    })
}

/// A connection in use, and its lane's permit while it is.
struct Conn<'a> {
    client: tokio::sync::MutexGuard<'a, Client>,
    _lane: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// `host:port/dbname` of a connection configuration, for messages (never the password).
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

impl Store {
    /// Connects to the database `url` (a libpq connection string or URL), over TLS when it
    /// says `sslmode=require` (the server's certificate checked against the public
    /// certificate authorities; see [`Store::connect_verified_by`]).
    pub async fn connect(
        url: &str,
        password: Option<&SecretString>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServerError> {
        Self::connect_verified_by(url, password, None, clock).await
    }

    /// [`Store::connect`], a TLS server's certificate checked against the certificates
    /// of `ca_file` (PEM; `[database] ca_file`) when given.
    pub async fn connect_verified_by(
        url: &str,
        password: Option<&SecretString>,
        ca_file: Option<&std::path::Path>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServerError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| ServerError::Config {
            path: "database.url".into(),
            message: format!("not a PostgreSQL connection string: {e}"),
        })?;
        if let Some(password) = password {
            config.password(password.expose_secret());
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let target = describe(&config);
        let tls = DbTls::for_config(&config, ca_file)?;
        let client = Self::open(&config, &tls, &target).await?;
        Ok(Self {
            clients: Arc::new(vec![tokio::sync::Mutex::new(client)]),
            next: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            lane: None,
            config,
            tls,
            clock,
            target,
        })
    }

    async fn open(
        config: &tokio_postgres::Config,
        tls: &DbTls,
        target: &str,
    ) -> Result<Client, ServerError> {
        let (client, mut messages) =
            connect_raw(config, tls)
                .await
                .map_err(|e| ServerError::DatabaseUnreachable {
                    target: target.to_owned(),
                    // The TLS error (an untrusted certificate, a wrong name) is the source's.
                    detail: match std::error::Error::source(&e) {
                        Some(source) => format!("{e}: {source}"),
                        None => e.to_string(),
                    },
                })?;
        let conn_target = target.to_owned();
        tokio::spawn(async move {
            while let Some(message) = futures::StreamExt::next(&mut messages).await {
                if let Err(e) = message {
                    tracing::warn!(target = %conn_target, error = %e, "database connection ended");
                    return;
                }
            }
        });
        Ok(client)
    }

    /// Opens `n` connections in all (at least one): writes of different mailboxes (presence
    /// automation of many users at once) then run side by side.
    pub async fn with_connections(mut self, n: usize) -> Result<Self, ServerError> {
        let target = self.target.clone();
        let Some(clients) = Arc::get_mut(&mut self.clients) else {
            return Err(ServerError::Config {
                path: "database.connections".into(),
                message: "the connections are opened before the store is shared".into(),
            });
        };
        while clients.len() < n {
            let client = Self::open(&self.config, &self.tls, &target).await?;
            clients.push(tokio::sync::Mutex::new(client));
        }
        Ok(self)
    }

    /// Keeps `reserved` of the connections for presence automation: this handle (and the
    /// sync rounds, lease passes and webhook using it) holds at most the others at once,
    /// while [`Store::presence_lane`] may use them all. At least one connection stays this
    /// handle's (a reserve of all of them is taken as all but one).
    pub fn reserve_for_presence(mut self, reserved: usize) -> Self {
        let n = self.clients.len();
        let reserved = reserved.min(n.saturating_sub(1));
        self.lane = (reserved > 0).then(|| Arc::new(tokio::sync::Semaphore::new(n - reserved)));
        if reserved > 0 {
            tracing::debug!(
                connections = n,
                reserved,
                "database connections reserved for presence automation"
            );
        }
        self
    }

    /// The same connections, used by presence automation: without the cap of this handle's
    /// lane, so the connections [`Store::reserve_for_presence`] kept are free for it
    /// whatever the sync rounds hold.
    pub fn presence_lane(&self) -> Store {
        Store {
            clients: self.clients.clone(),
            next: self.next.clone(),
            lane: None,
            config: self.config.clone(),
            tls: self.tls.clone(),
            clock: self.clock.clone(),
            target: self.target.clone(),
        }
    }

    /// A free connection (else the first one to come free), within this lane's cap, opened
    /// again first if it was lost.
    async fn client(&self) -> Result<Conn<'_>, ServerError> {
        use std::sync::atomic::Ordering;
        let permit = match &self.lane {
            Some(lane) => Some(lane.clone().acquire_owned().await.map_err(|_| {
                ServerError::DatabaseUnreachable {
                    target: self.target.clone(),
                    detail: "the connections were closed".into(),
                }
            })?),
            None => None,
        };
        let n = self.clients.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..n).find_map(|i| self.clients[(first + i) % n].try_lock().ok());
        let mut client = match free {
            Some(guard) => guard,
            None => {
                futures::future::select_all(self.clients.iter().map(|c| Box::pin(c.lock())))
                    .await
                    .0
            }
        };
        if client.is_closed() {
            tracing::info!(target = %self.target, "reconnecting to the database");
            *client = Self::open(&self.config, &self.tls, &self.target).await?;
        }
        Ok(Conn {
            client,
            _lane: permit,
        })
    }

    /// Applies the migrations this version knows and the database lacks; returns the schema
    /// version. Workers starting together take turns (an advisory lock).
    pub async fn migrate(&self) -> Result<i32, ServerError> {
        let supported = MIGRATIONS.last().map_or(0, |m| m.version);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 version     INTEGER PRIMARY KEY,
                 description TEXT NOT NULL,
                 applied_at  TIMESTAMPTZ NOT NULL
             )",
        )
        .await?;
        let current: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .await?
            .get(0);
        if current > supported {
            return Err(ServerError::SchemaTooNew {
                found: current,
                supported,
            });
        }
        let now = self.clock.now();
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            tx.batch_execute(m.sql).await?;
            tx.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)",
                &[&m.version, &m.description, &now],
            )
            .await?;
            tracing::info!(
                version = m.version,
                description = m.description,
                "migration applied"
            );
        }
        tx.commit().await?;
        Ok(supported)
    }

    /// The applied schema versions, in order.
    pub async fn schema_versions(&self) -> Result<Vec<i32>, ServerError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT version FROM schema_version ORDER BY version", &[])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    // ---- mailboxes and leases ------------------------------------------------------------

    /// Makes the synced mailboxes `users`: new ones are added, listed ones enabled, the
    /// others disabled (their data stays; no worker claims them).
    pub async fn set_users(&self, users: &[String]) -> Result<(), ServerError> {
        let now = self.clock.now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for user in users {
            tx.execute(
                "INSERT INTO mailboxes (id, enabled, added_at) VALUES ($1, TRUE, $2)
                 ON CONFLICT (id) DO UPDATE SET enabled = TRUE",
                &[user, &now],
            )
            .await?;
        }
        tx.execute(
            "UPDATE mailboxes SET enabled = FALSE WHERE NOT (id = ANY($1))",
            &[&users],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `worker` is alive, and answers how many workers are (seen within
    /// `lease_for`, this one included) and how many mailboxes are enabled: the fair share
    /// is the one divided by the other. Workers gone for long are forgotten.
    pub async fn heartbeat(
        &self,
        worker: &str,
        lease_for: chrono::Duration,
    ) -> Result<(i64, i64), ServerError> {
        let now = self.clock.now();
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO workers (id, seen_at) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at",
                &[&worker, &now],
            )
            .await?;
        client
            .execute(
                "DELETE FROM workers WHERE seen_at < $1",
                &[&(now - lease_for * 100)],
            )
            .await?;
        let row = client
            .query_one(
                "SELECT (SELECT COUNT(*) FROM workers WHERE seen_at > $1),
                        (SELECT COUNT(*) FROM mailboxes WHERE enabled)",
                &[&(now - lease_for)],
            )
            .await?;
        Ok((row.get::<_, i64>(0).max(1), row.get(1)))
    }

    /// Forgets `worker` (it is stopping): the others count it out at once.
    pub async fn leave(&self, worker: &str) -> Result<(), ServerError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM workers WHERE id = $1", &[&worker])
            .await?;
        Ok(())
    }

    /// Claims up to `limit` enabled mailboxes that nobody holds or whose lease expired, for
    /// `lease_for`. Rows another worker is claiming right now are skipped, not waited for.
    pub async fn claim(
        &self,
        worker: &str,
        limit: i64,
        lease_for: chrono::Duration,
    ) -> Result<Vec<Lease>, ServerError> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let expires = now + lease_for;
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH claimable AS (
                     SELECT id FROM mailboxes
                      WHERE enabled AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
                      ORDER BY lease_expires_at NULLS FIRST, id
                      LIMIT $2
                      FOR UPDATE SKIP LOCKED)
                 UPDATE mailboxes m
                    SET lease_owner = $3, lease_expires_at = $4,
                        fencing_token = m.fencing_token + 1
                   FROM claimable
                  WHERE m.id = claimable.id
              RETURNING m.id, m.fencing_token",
                &[&now, &limit, &worker, &expires],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Lease {
                mailbox: r.get(0),
                worker: worker.to_owned(),
                token: r.get(1),
                expires_at: expires,
            })
            .collect())
    }

    /// Extends the leases still held (same owner and token, not expired, mailbox enabled);
    /// returns them renewed, and the ones lost.
    pub async fn renew(
        &self,
        leases: &[Lease],
        lease_for: chrono::Duration,
    ) -> Result<(Vec<Lease>, Vec<Lease>), ServerError> {
        let now = self.clock.now();
        let expires = now + lease_for;
        let client = self.client().await?;
        let (mut kept, mut lost) = (Vec::new(), Vec::new());
        for lease in leases {
            let n = client
                .execute(
                    "UPDATE mailboxes SET lease_expires_at = $1
                      WHERE id = $2 AND lease_owner = $3 AND fencing_token = $4
                        AND lease_expires_at > $5 AND enabled",
                    &[&expires, &lease.mailbox, &lease.worker, &lease.token, &now],
                )
                .await?;
            if n == 1 {
                kept.push(Lease {
                    expires_at: expires,
                    ..lease.clone()
                });
            } else {
                lost.push(lease.clone());
            }
        }
        Ok((kept, lost))
    }

    /// Gives leases up (a worker shutting down), so others claim them at once.
    pub async fn release(&self, leases: &[Lease]) -> Result<(), ServerError> {
        let client = self.client().await?;
        for lease in leases {
            client
                .execute(
                    "UPDATE mailboxes SET lease_owner = NULL, lease_expires_at = NULL
                      WHERE id = $1 AND lease_owner = $2 AND fencing_token = $3",
                    &[&lease.mailbox, &lease.worker, &lease.token],
                )
                .await?;
        }
        Ok(())
    }

    /// Checks, inside `tx`, that `lease` is still the mailbox's current lease, and holds
    /// the mailbox row until the commit.
    async fn fence(&self, tx: &Transaction<'_>, lease: &Lease) -> Result<(), ServerError> {
        let now = self.clock.now();
        let row = tx
            .query_opt(
                "SELECT fencing_token, lease_owner, lease_expires_at FROM mailboxes
                  WHERE id = $1 FOR SHARE",
                &[&lease.mailbox],
            )
            .await?;
        let fenced = |current: Option<i64>, owner: Option<String>| ServerError::Fenced {
            mailbox: lease.mailbox.clone(),
            token: lease.token,
            current,
            owner,
        };
        let Some(row) = row else {
            return Err(fenced(None, None));
        };
        let token: i64 = row.get(0);
        let owner: Option<String> = row.get(1);
        let expires: Option<DateTime<Utc>> = row.get(2);
        let current = token == lease.token
            && owner.as_deref() == Some(lease.worker.as_str())
            && expires.is_some_and(|e| e > now);
        if current {
            Ok(())
        } else {
            tracing::warn!(mailbox = %lease.mailbox, token = lease.token, current = token, ?owner, "write refused: the lease is no longer held");
            Err(fenced(Some(token), owner))
        }
    }

    // ---- change notifications ------------------------------------------------------------

    /// Records `lease`'s mailbox's subscription (replacing the one before, whoever made it),
    /// under the lease. Returns the id of the subscription it replaced, when another one was
    /// recorded: a worker killed (or past its lease) leaves its subscription on Graph, which
    /// the new holder deletes rather than leaving it to notify for days.
    pub async fn save_subscription(
        &self,
        lease: &Lease,
        id: &str,
        client_state: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<String>, ServerError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.fence(&tx, lease).await?;
        let replaced: Option<String> = tx
            .query_opt(
                "SELECT id FROM subscriptions WHERE mailbox_id = $1 AND id <> $2 FOR UPDATE",
                &[&lease.mailbox, &id],
            )
            .await?
            .map(|row| row.get(0));
        tx.execute(
            "DELETE FROM subscriptions WHERE id = $1 AND mailbox_id <> $2",
            &[&id, &lease.mailbox],
        )
        .await?;
        tx.execute(
            "INSERT INTO subscriptions (mailbox_id, id, client_state, expires_at, worker, fencing_token)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (mailbox_id) DO UPDATE SET
                 id = EXCLUDED.id, client_state = EXCLUDED.client_state,
                 expires_at = EXCLUDED.expires_at, worker = EXCLUDED.worker,
                 fencing_token = EXCLUDED.fencing_token",
            &[
                &lease.mailbox,
                &id,
                &client_state,
                &expires_at,
                &lease.worker,
                &lease.token,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(replaced)
    }

    /// Forgets subscription `id` (deleted on Graph): only that one, so a newer holder's
    /// subscription of the same mailbox stays.
    pub async fn delete_subscription(&self, id: &str) -> Result<(), ServerError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM subscriptions WHERE id = $1", &[&id])
            .await?;
        Ok(())
    }

    /// The subscription Graph calls `id`, if one is recorded.
    pub async fn subscription(&self, id: &str) -> Result<Option<StoredSubscription>, ServerError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT mailbox_id, id, client_state, expires_at FROM subscriptions WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(stored_subscription))
    }

    /// The recorded subscriptions of `mailboxes`, in one query (a worker that has just
    /// claimed thousands of mailboxes reads them all at once, not one by one).
    pub async fn subscriptions_of(
        &self,
        mailboxes: &[&str],
    ) -> Result<Vec<StoredSubscription>, ServerError> {
        if mailboxes.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT mailbox_id, id, client_state, expires_at FROM subscriptions
                  WHERE mailbox_id = ANY($1)",
                &[&mailboxes],
            )
            .await?;
        Ok(rows.iter().map(stored_subscription).collect())
    }

    /// The worker that holds subscription `id` now: the one that recorded it under the
    /// lease of the mailbox it still holds (a mailbox's new holder records the
    /// subscription it adopted under its own lease). `None` when no current lease keeps it.
    pub async fn subscription_keeper(&self, id: &str) -> Result<Option<String>, ServerError> {
        let now = self.clock.now();
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT s.worker FROM subscriptions s JOIN mailboxes m ON m.id = s.mailbox_id
                  WHERE s.id = $1 AND m.lease_owner = s.worker
                    AND m.fencing_token = s.fencing_token AND m.lease_expires_at > $2",
                &[&id, &now],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Every recorded subscription (tests, status).
    pub async fn subscriptions(&self) -> Result<Vec<StoredSubscription>, ServerError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT mailbox_id, id, client_state, expires_at FROM subscriptions ORDER BY mailbox_id",
                &[],
            )
            .await?;
        Ok(rows.iter().map(stored_subscription).collect())
    }

    /// `NOTIFY presently_mailbox, payload`: every listening worker hears it.
    pub async fn wake(&self, payload: &str) -> Result<(), ServerError> {
        let client = self.client().await?;
        client
            .execute("SELECT pg_notify($1, $2)", &[&WAKE_CHANNEL, &payload])
            .await?;
        Ok(())
    }

    /// Opens a connection of its own that `LISTEN`s on [`WAKE_CHANNEL`] and forwards what it
    /// hears, opening it again (after a second) when it is lost; ends when the receiver is
    /// dropped. The first [`Wake::Reconnected`] comes once the first `LISTEN` is in force.
    pub fn listen(&self) -> tokio::sync::mpsc::UnboundedReceiver<Wake> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let config = self.config.clone();
        let tls = self.tls.clone();
        let target = self.target.clone();
        tokio::spawn(async move {
            loop {
                if tx.is_closed() {
                    return;
                }
                match connect_raw(&config, &tls).await {
                    Ok((client, mut messages)) => {
                        let (msg_tx, mut msg_rx) = tokio::sync::mpsc::unbounded_channel();
                        let driver = tokio::spawn(async move {
                            while let Some(message) = futures::StreamExt::next(&mut messages).await
                            {
                                match message {
                                    Ok(m) => {
                                        if msg_tx.send(m).is_err() {
                                            return;
                                        }
                                    }
                                    Err(e) => {
                                        tracing::warn!(error = %e, "the LISTEN connection ended");
                                        return;
                                    }
                                }
                            }
                        });
                        match client
                            .batch_execute(&format!("LISTEN {WAKE_CHANNEL}"))
                            .await
                        {
                            Ok(()) => {
                                if tx.send(Wake::Reconnected).is_err() {
                                    driver.abort();
                                    return;
                                }
                                while let Some(m) = msg_rx.recv().await {
                                    if let tokio_postgres::AsyncMessage::Notification(n) = m {
                                        if tx.send(Wake::Payload(n.payload().to_owned())).is_err() {
                                            driver.abort();
                                            return;
                                        }
                                    }
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "LISTEN failed"),
                        }
                        driver.abort();
                    }
                    Err(e) => {
                        tracing::warn!(target = %target, error = %e, "cannot open the LISTEN connection")
                    }
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        rx
    }

    // ---- sync state and data -------------------------------------------------------------

    pub async fn sync_state(&self, mailbox: &str) -> Result<Option<SyncState>, ServerError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT delta_link, next_link, round, window_start, window_end, last_synced_at
                   FROM sync_state WHERE mailbox_id = $1",
                &[&mailbox],
            )
            .await?;
        Ok(row.map(|r| SyncState {
            delta_link: r.get(0),
            next_link: r.get(1),
            round: r
                .get::<_, Option<String>>(2)
                .as_deref()
                .and_then(parse_round),
            window_start: r.get(3),
            window_end: r.get(4),
            last_synced_at: r.get(5),
        }))
    }

    async fn put_state(
        tx: &Transaction<'_>,
        mailbox: &str,
        state: &SyncState,
    ) -> Result<(), ServerError> {
        let round = state.round.map(round_name);
        tx.execute(
            "INSERT INTO sync_state
                 (mailbox_id, delta_link, next_link, round, window_start, window_end, last_synced_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (mailbox_id) DO UPDATE SET
                 delta_link = EXCLUDED.delta_link, next_link = EXCLUDED.next_link,
                 round = EXCLUDED.round, window_start = EXCLUDED.window_start,
                 window_end = EXCLUDED.window_end, last_synced_at = EXCLUDED.last_synced_at",
            &[
                &mailbox,
                &state.delta_link,
                &state.next_link,
                &round,
                &state.window_start,
                &state.window_end,
                &state.last_synced_at,
            ],
        )
        .await?;
        Ok(())
    }

    /// Commits one page with the sync state that follows it. A full round's pages go to the
    /// staging area; its last page (`complete`) replaces the appointments with the staged
    /// ones. An incremental (or initial) round's pages apply directly. `first_of_full`: the
    /// first page of a fresh full round, which empties the staging area first (so a round
    /// whose first request fails has applied nothing). `complete` also records the round
    /// (`pages` in all) in the history.
    pub async fn apply_page(
        &self,
        lease: &Lease,
        kind: RoundKind,
        changes: &[EventChange],
        state: &SyncState,
        first_of_full: bool,
        complete: Option<usize>,
    ) -> Result<PageStats, ServerError> {
        let table = match kind {
            RoundKind::Full => "staged_appointments",
            RoundKind::Incremental | RoundKind::Initial => "appointments",
        };
        let upsert = format!(
            "INSERT INTO {table} (mailbox_id, id, starts_at, ends_at, data)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (mailbox_id, id) DO UPDATE SET
                 starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, data = EXCLUDED.data"
        );
        let delete = format!("DELETE FROM {table} WHERE mailbox_id = $1 AND id = $2");
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.fence(&tx, lease).await?;
        if first_of_full {
            tx.execute(
                "DELETE FROM staged_appointments WHERE mailbox_id = $1",
                &[&lease.mailbox],
            )
            .await?;
        }
        let upsert = tx.prepare(&upsert).await?;
        let delete = tx.prepare(&delete).await?;
        let mut stats = PageStats::default();
        for change in changes {
            match change {
                EventChange::Upsert(appointment) => {
                    let (start, end) = span(appointment);
                    let data = serde_json::to_value(appointment.as_ref()).map_err(|e| {
                        ServerError::Sync {
                            mailbox: lease.mailbox.clone(),
                            message: format!("cannot encode appointment {}: {e}", appointment.id),
                        }
                    })?;
                    let params: [&(dyn ToSql + Sync); 5] =
                        [&lease.mailbox, &appointment.id, &start, &end, &data];
                    tx.execute(&upsert, &params).await?;
                    stats.upserted += 1;
                }
                EventChange::Removed { id } => {
                    stats.removed += tx.execute(&delete, &[&lease.mailbox, id]).await? as usize;
                }
                // Pages are parsed here without the stored versions, so none comes back
                // "unchanged"; were one to, a full round would lose it, so it is refused.
                EventChange::Unchanged { id } => {
                    return Err(ServerError::Sync {
                        mailbox: lease.mailbox.clone(),
                        message: format!("event {id} came back unread; this store cannot keep it"),
                    });
                }
            }
        }
        if complete.is_some() && kind == RoundKind::Full {
            tx.execute(
                "DELETE FROM appointments WHERE mailbox_id = $1",
                &[&lease.mailbox],
            )
            .await?;
            tx.execute(
                "INSERT INTO appointments (mailbox_id, id, starts_at, ends_at, data)
                 SELECT mailbox_id, id, starts_at, ends_at, data
                   FROM staged_appointments WHERE mailbox_id = $1",
                &[&lease.mailbox],
            )
            .await?;
            tx.execute(
                "DELETE FROM staged_appointments WHERE mailbox_id = $1",
                &[&lease.mailbox],
            )
            .await?;
        }
        Self::put_state(&tx, &lease.mailbox, state).await?;
        if let Some(pages) = complete {
            tx.execute(
                "INSERT INTO sync_history
                     (mailbox_id, finished_at, round, pages, upserted, removed, worker, fencing_token)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &lease.mailbox,
                    &self.clock.now(),
                    &round_name(kind),
                    &(pages as i32),
                    &(stats.upserted as i32),
                    &(stats.removed as i32),
                    &lease.worker,
                    &lease.token,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(stats)
    }

    /// Forgets the mailbox's sync state (Graph no longer knows it): the next round is full.
    pub async fn reset_sync_state(&self, lease: &Lease) -> Result<(), ServerError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.fence(&tx, lease).await?;
        tx.execute(
            "DELETE FROM sync_state WHERE mailbox_id = $1",
            &[&lease.mailbox],
        )
        .await?;
        tx.execute(
            "DELETE FROM staged_appointments WHERE mailbox_id = $1",
            &[&lease.mailbox],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- presence automation -------------------------------------------------------------

    /// The presence driver's state of `mailbox`: a fresh one (journal id from the mailbox)
    /// when automation never ran for it.
    pub async fn load_presence(&self, mailbox: &str) -> Result<Durable, ServerError> {
        let damaged = |message: String| ServerError::Sync {
            mailbox: mailbox.to_owned(),
            message: format!("the presence journal is damaged: {message}"),
        };
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT journal_id, next_seq, headline, holds FROM presence_driver
                  WHERE mailbox_id = $1",
                &[&mailbox],
            )
            .await?;
        let Some(row) = row else {
            return Ok(Durable::new(&uuid::Uuid::new_v4().simple().to_string()));
        };
        let mut durable = Durable::new(row.get::<_, &str>(0));
        durable.next_seq = u64::try_from(row.get::<_, i64>(1)).unwrap_or(1).max(1);
        if let Some(json) = row.get::<_, Option<String>>(2) {
            durable.headline =
                Some(serde_json::from_str(&json).map_err(|e| damaged(format!("headline: {e}")))?);
        }
        let holds: serde_json::Value = row.get(3);
        for resource in presently_engine::presence::journal::Resource::ALL {
            if let Some(hold) = holds.get(resource.as_str()) {
                durable.holds[resource.index()] = serde_json::from_value(hold.clone())
                    .map_err(|e| damaged(format!("{resource}: {e}")))?;
            }
        }
        let rows = client
            .query(
                "SELECT key, resource, purpose, action, state, attempts, last_error,
                        next_attempt, created, updated
                   FROM presence_journal
                  WHERE mailbox_id = $1 AND state IN ('pending', 'in_flight')
                  ORDER BY created, key",
                &[&mailbox],
            )
            .await?;
        for r in rows {
            let row = PresenceJournalRow {
                key: r.get(0),
                resource: r.get(1),
                purpose: r.get(2),
                action: r.get(3),
                state: r.get(4),
                attempts: u32::try_from(r.get::<_, i32>(5)).unwrap_or(0),
                last_error: r.get(6),
                next_attempt: r.get(7),
                created: r.get(8),
                updated: r.get(9),
            };
            durable
                .open
                .push(entry_from_row(row).map_err(|e| damaged(e.to_string()))?);
        }
        Ok(durable)
    }

    /// Stores what the presence driver says to store, in one transaction under `lease`: a
    /// worker that lost the lease writes nothing (and so sends nothing: the runner sends a
    /// write only once its intent is stored).
    pub async fn save_presence(&self, lease: &Lease, persist: &Persist) -> Result<(), ServerError> {
        let holds: serde_json::Map<String, serde_json::Value> = persist
            .hold_rows()
            .into_iter()
            .map(|(k, json)| {
                let v = serde_json::from_str(&json).unwrap_or(serde_json::Value::Null);
                (k, v)
            })
            .collect();
        let holds = serde_json::Value::Object(holds);
        let next_seq = i64::try_from(persist.durable.next_seq).unwrap_or(i64::MAX);
        let headline = persist.headline_json();
        let now = self.clock.now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.fence(&tx, lease).await?;
        tx.execute(
            "INSERT INTO presence_driver
                 (mailbox_id, journal_id, next_seq, headline, holds, updated_at, worker, fencing_token)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (mailbox_id) DO UPDATE SET
                 journal_id = EXCLUDED.journal_id, next_seq = EXCLUDED.next_seq,
                 headline = EXCLUDED.headline, holds = EXCLUDED.holds,
                 updated_at = EXCLUDED.updated_at, worker = EXCLUDED.worker,
                 fencing_token = EXCLUDED.fencing_token",
            &[
                &lease.mailbox,
                &persist.durable.journal_id,
                &next_seq,
                &headline,
                &holds,
                &now,
                &lease.worker,
                &lease.token,
            ],
        )
        .await?;
        for row in persist.journal_rows() {
            let attempts = i32::try_from(row.attempts).unwrap_or(i32::MAX);
            let params: [&(dyn ToSql + Sync); 13] = [
                &lease.mailbox,
                &row.key,
                &row.resource,
                &row.purpose,
                &row.action,
                &row.state,
                &attempts,
                &row.last_error,
                &row.next_attempt,
                &row.created,
                &row.updated,
                &lease.worker,
                &lease.token,
            ];
            tx.execute(
                "INSERT INTO presence_journal
                     (mailbox_id, key, resource, purpose, action, state, attempts, last_error,
                      next_attempt, created, updated, worker, fencing_token)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (mailbox_id, key) DO UPDATE SET
                     state = EXCLUDED.state, attempts = EXCLUDED.attempts,
                     last_error = EXCLUDED.last_error, next_attempt = EXCLUDED.next_attempt,
                     updated = EXCLUDED.updated, worker = EXCLUDED.worker,
                     fencing_token = EXCLUDED.fencing_token",
                &params,
            )
            .await?;
        }
        for h in &persist.history {
            tx.execute(
                "INSERT INTO presence_history
                     (mailbox_id, at, event, profile, detail, worker, fencing_token)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &lease.mailbox,
                    &h.at,
                    &h.event.to_string(),
                    &h.profile,
                    &h.detail,
                    &lease.worker,
                    &lease.token,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The presence history of `mailbox`, oldest first: (event, profile, worker, token).
    pub async fn presence_history(
        &self,
        mailbox: &str,
    ) -> Result<Vec<(String, Option<String>, String, i64)>, ServerError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT event, profile, worker, fencing_token FROM presence_history
                  WHERE mailbox_id = $1 ORDER BY id",
                &[&mailbox],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }

    /// Presence automation per worker: the mailboxes it holds with something to give back
    /// and its open writes (by the mailboxes' current holder), and the transitions the
    /// history records (by the worker that made them), by worker.
    pub async fn presence_summary(&self) -> Result<Vec<PresenceSummary>, ServerError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH held AS (
                     SELECT m.lease_owner AS worker,
                            COUNT(*) FILTER (WHERE jsonb_path_exists(
                                d.holds, '$.* ? (@.hold == \"owned\")')) AS holding,
                            COALESCE(SUM((SELECT COUNT(*) FROM presence_journal j
                                           WHERE j.mailbox_id = d.mailbox_id
                                             AND j.state IN ('pending', 'in_flight'))), 0)::BIGINT
                                AS open_writes
                       FROM presence_driver d JOIN mailboxes m ON m.id = d.mailbox_id
                      GROUP BY m.lease_owner),
                 made AS (
                     SELECT worker,
                            COUNT(*) FILTER (WHERE event = 'applied') AS applied,
                            COUNT(*) FILTER (WHERE event = 'restored') AS restored
                       FROM presence_history GROUP BY worker)
                 SELECT COALESCE(held.worker, made.worker), COALESCE(holding, 0),
                        COALESCE(open_writes, 0), COALESCE(applied, 0), COALESCE(restored, 0)
                   FROM held FULL JOIN made ON made.worker = held.worker
                  ORDER BY 1 NULLS LAST",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| PresenceSummary {
                worker: r.get(0),
                holding: r.get(1),
                open_writes: r.get(2),
                applied: r.get(3),
                restored: r.get(4),
            })
            .collect())
    }

    /// `mailbox`'s appointments overlapping `start..end`, by start.
    pub async fn appointments_between(
        &self,
        mailbox: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<Appointment>, ServerError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT data FROM appointments
                  WHERE mailbox_id = $1 AND ends_at > $2 AND starts_at < $3
                  ORDER BY starts_at, id",
                &[&mailbox, &start, &end],
            )
            .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_value(r.get(0)).map_err(|e| ServerError::Sync {
                    mailbox: mailbox.to_owned(),
                    message: format!("a stored appointment is unreadable: {e}"),
                })
            })
            .collect()
    }

    /// Whether this worker's connection to the database is encrypted (TLS), as the server
    /// sees it.
    pub async fn connection_encrypted(&self) -> Result<bool, ServerError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?;
        Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
    }

    /// The mailbox's time zone as last read from its mailbox settings (Graph's name), and
    /// when it was read; `(None, None)` before the first read.
    pub async fn time_zone(
        &self,
        mailbox: &str,
    ) -> Result<(Option<String>, Option<DateTime<Utc>>), ServerError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT time_zone, time_zone_read_at FROM mailboxes WHERE id = $1",
                &[&mailbox],
            )
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))).unwrap_or((None, None)))
    }

    /// Records the time zone read from the mailbox's settings at `read_at` (`None`: it
    /// could not be read). Not user data and the same for every holder, so not fenced.
    pub async fn set_time_zone(
        &self,
        mailbox: &str,
        zone: Option<&str>,
        read_at: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE mailboxes SET time_zone = $2, time_zone_read_at = $3 WHERE id = $1",
                &[&mailbox, &zone, &read_at],
            )
            .await?;
        Ok(())
    }

    // ---- reads ---------------------------------------------------------------------------

    /// The mailbox's appointments, by start.
    pub async fn appointments(&self, mailbox: &str) -> Result<Vec<Appointment>, ServerError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT data FROM appointments WHERE mailbox_id = $1 ORDER BY starts_at, id",
                &[&mailbox],
            )
            .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_value(r.get(0)).map_err(|e| ServerError::Sync {
                    mailbox: mailbox.to_owned(),
                    message: format!("a stored appointment is unreadable: {e}"),
                })
            })
            .collect()
    }

    pub async fn mailboxes(&self) -> Result<Vec<MailboxStatus>, ServerError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT m.id, m.enabled, m.lease_owner, m.lease_expires_at, m.fencing_token,
                        s.last_synced_at,
                        (SELECT COUNT(*) FROM appointments a WHERE a.mailbox_id = m.id)
                   FROM mailboxes m LEFT JOIN sync_state s ON s.mailbox_id = m.id
                  ORDER BY m.id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| MailboxStatus {
                id: r.get(0),
                enabled: r.get(1),
                owner: r.get(2),
                lease_expires_at: r.get(3),
                fencing_token: r.get(4),
                last_synced_at: r.get(5),
                appointments: r.get(6),
            })
            .collect())
    }

    /// The latest completed rounds of `mailbox` (all mailboxes: `None`), newest first.
    pub async fn history(
        &self,
        mailbox: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RoundRecord>, ServerError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT mailbox_id, finished_at, round, pages, upserted, removed, worker, fencing_token
                   FROM sync_history WHERE $1::TEXT IS NULL OR mailbox_id = $1
                  ORDER BY id DESC LIMIT $2",
                &[&mailbox, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| RoundRecord {
                mailbox: r.get(0),
                finished_at: r.get(1),
                round: r.get(2),
                pages: r.get(3),
                upserted: r.get(4),
                removed: r.get(5),
                worker: r.get(6),
                fencing_token: r.get(7),
            })
            .collect())
    }
}
