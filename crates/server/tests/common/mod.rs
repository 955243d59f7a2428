//! Test fixtures: a throwaway PostgreSQL cluster (scripts/pg-throwaway.sh, run as the
//! `postgres` user when the tests run as root), an emulator with a confidential app and
//! tenant users, and certificates made with openssl.

// Tests run against the real clock where a real process or the emulator's token lifetimes
// are involved.
#![allow(clippy::disallowed_methods, dead_code)]

use presently_emulator::{Control, Emulator, EmulatorConfig};
use presently_engine::Clock;
use presently_server::auth::{AppTokenSource, Credential};
use presently_server::store::Store;
use presently_server::sync::SyncContext;
use presently_server::worker::{LeasePass, Worker, WorkerOptions};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

pub const CLIENT_ID: &str = "5d0c3f9e-8a41-4b7e-9c2d-1f6a7b8c9d0e";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A PostgreSQL cluster of its own, stopped (and its directory removed) on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    pub url: String,
}

impl Postgres {
    pub fn start() -> Postgres {
        Self::start_with(&[])
    }

    /// A cluster that also offers TLS with `cert` and `key` (PEM files).
    pub fn start_tls(cert: &Path, key: &Path) -> Postgres {
        Self::start_with(&[("PG_TLS_CERT", cert), ("PG_TLS_KEY", key)])
    }

    fn start_with(env: &[(&str, &Path)]) -> Postgres {
        let script = repo_root().join("scripts/pg-throwaway.sh");
        let mut last_error = String::new();
        // A port found free can be taken before the cluster binds it: try again.
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("presently-pg-")
                .tempdir_in("/tmp")
                .expect("a temporary directory");
            let port = free_port();
            let out = Command::new("bash")
                .arg(&script)
                .arg("start")
                .arg(dir.path())
                .arg(port.to_string())
                .envs(env.iter().copied())
                .output()
                .expect("run scripts/pg-throwaway.sh");
            if out.status.success() {
                let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                return Postgres { dir, port, url };
            }
            last_error = String::from_utf8_lossy(&out.stderr).into_owned();
            stop(&script, dir.path());
        }
        panic!("could not start a throwaway PostgreSQL: {last_error}");
    }
}

impl Postgres {
    /// Stops the cluster (its data stays), as a database restart or outage would.
    pub fn stop(&self) {
        stop(
            &repo_root().join("scripts/pg-throwaway.sh"),
            self.dir.path(),
        );
    }

    /// Starts it again on the same port, with its data.
    pub fn start_again(&self) {
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/pg-throwaway.sh"))
            .arg("start")
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .output()
            .expect("run scripts/pg-throwaway.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn stop(script: &Path, dir: &Path) {
    let _ = Command::new("bash")
        .arg(script)
        .arg("stop")
        .arg(dir)
        .output();
}

impl Drop for Postgres {
    fn drop(&mut self) {
        stop(
            &repo_root().join("scripts/pg-throwaway.sh"),
            self.dir.path(),
        );
    }
}

/// A self-signed certificate and its private key (PEM), as an administrator would upload
/// the certificate to the app registration.
pub struct Certificate {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

pub fn make_certificate(dir: &Path, name: &str) -> Certificate {
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .arg("-subj")
        .arg(format!("/CN=presently-server-{name}"))
        .arg("-keyout")
        .arg(&key_path)
        .arg("-out")
        .arg(&cert_path)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    set_mode(&key_path, 0o600);
    Certificate {
        cert_pem: std::fs::read_to_string(&cert_path).expect("certificate"),
        key_pem: std::fs::read_to_string(&key_path).expect("key"),
        cert_path,
        key_path,
    }
}

/// A certificate authority and a server certificate it issued for 127.0.0.1 and
/// localhost (PEM files in `dir`): (the authority's, the server's).
pub fn make_server_certificate(dir: &Path) -> (Certificate, Certificate) {
    let ca = make_certificate(dir, "ca");
    let key_path = dir.join("server.key");
    let csr = dir.join("server.csr");
    let cert_path = dir.join("server.crt");
    let ext = dir.join("server.ext");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("extensions");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req".as_ref(),
        "-newkey".as_ref(),
        "rsa:2048".as_ref(),
        "-nodes".as_ref(),
        "-subj".as_ref(),
        "/CN=127.0.0.1".as_ref(),
        "-keyout".as_ref(),
        key_path.as_os_str(),
        "-out".as_ref(),
        csr.as_os_str(),
    ]);
    run(&[
        "x509".as_ref(),
        "-req".as_ref(),
        "-in".as_ref(),
        csr.as_os_str(),
        "-CA".as_ref(),
        ca.cert_path.as_os_str(),
        "-CAkey".as_ref(),
        ca.key_path.as_os_str(),
        "-CAcreateserial".as_ref(),
        "-days".as_ref(),
        "2".as_ref(),
        "-extfile".as_ref(),
        ext.as_os_str(),
        "-out".as_ref(),
        cert_path.as_os_str(),
    ]);
    set_mode(&key_path, 0o600);
    let server = Certificate {
        cert_pem: std::fs::read_to_string(&cert_path).expect("certificate"),
        key_pem: std::fs::read_to_string(&key_path).expect("key"),
        cert_path,
        key_path,
    };
    (ca, server)
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

pub async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator")
}

pub fn token_source(
    emu: &Emulator,
    cert: &Certificate,
    clock: Arc<dyn Clock>,
) -> Result<AppTokenSource, presently_server::ServerError> {
    let credential =
        Credential::certificate(&cert.cert_pem, &SecretString::from(cert.key_pem.clone()))?;
    AppTokenSource::new(
        &emu.base_url(),
        presently_emulator::DEMO_TENANT_ID,
        CLIENT_ID,
        &emu.base_url(),
        credential,
        clock,
    )
}

/// A worker with its own database connection, syncing from the emulator.
pub async fn worker(
    pg: &Postgres,
    emu: &Emulator,
    cert: &Certificate,
    clock: Arc<dyn Clock>,
    id: &str,
    lease_secs: i64,
    max_mailboxes: i64,
) -> (Worker, Arc<Store>) {
    worker_with_connections(pg, emu, cert, clock, id, lease_secs, max_mailboxes, 1).await
}

/// [`worker`] on `connections` database connections.
#[allow(clippy::too_many_arguments)]
pub async fn worker_with_connections(
    pg: &Postgres,
    emu: &Emulator,
    cert: &Certificate,
    clock: Arc<dyn Clock>,
    id: &str,
    lease_secs: i64,
    max_mailboxes: i64,
    connections: usize,
) -> (Worker, Arc<Store>) {
    let store = Arc::new(
        Store::connect(&pg.url, None, clock.clone())
            .await
            .expect("connect")
            .with_connections(connections)
            .await
            .expect("connect"),
    );
    store.migrate().await.expect("migrate");
    let tokens = Arc::new(token_source(emu, cert, clock.clone()).expect("token source"));
    let mut ctx = SyncContext::new(store.clone(), tokens, &emu.base_url(), clock);
    ctx.page_size = 10;
    let worker = Worker::new(
        Arc::new(ctx),
        WorkerOptions {
            worker_id: id.to_owned(),
            lease_for: chrono::Duration::seconds(lease_secs),
            max_mailboxes,
            interval: chrono::Duration::seconds(60),
            concurrent_mailboxes: 4,
        },
    );
    (worker, store)
}

/// Today's date at noon, as the emulator's seeded week and the sync window see it.
pub fn real_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// A `server.toml` for the emulator and `pg`, signing in with `cert`.
pub fn config_text(
    database_url: &str,
    emu: &Emulator,
    cert: &Certificate,
    users: &[String],
    worker_id: &str,
    lease_secs: u64,
) -> String {
    let users = users
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"[database]
url = "{database_url}"

[identity]
tenant = "{tenant}"
client_id = "{CLIENT_ID}"
authority = "{base}"
certificate = "{cert}"
private_key_file = "{key}"

[graph]
endpoint = "{base}"

[sync]
interval_secs = 1
page_size = 25

[leases]
worker_id = "{worker_id}"
lease_secs = {lease_secs}

[users]
list = [{users}]
"#,
        tenant = presently_emulator::DEMO_TENANT_ID,
        base = emu.base_url(),
        cert = cert.cert_path.display(),
        key = cert.key_path.display(),
    )
}

/// A `presently-server` process, killed (SIGKILL) when dropped.
pub struct ServerProcess(pub std::process::Child);

impl ServerProcess {
    pub fn serve(config: &Path) -> ServerProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_presently-server"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("PRESENTLY_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start presently-server");
        ServerProcess(child)
    }

    /// [`ServerProcess::serve`] logging at `info` into the file `log`.
    pub fn serve_logging(config: &Path, log: &Path) -> ServerProcess {
        let file = std::fs::File::create(log).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_presently-server"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("PRESENTLY_LOG", "info,tokio_postgres=warn")
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start presently-server");
        ServerProcess(child)
    }

    /// Sends `signal` (e.g. `HUP`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.0.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// `kill -9`: no chance to release its leases.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `presently-server ARGS --config CONFIG`: (success, stdout, stderr).
pub fn run_cli(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_presently-server"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("PRESENTLY_LOG", "warn")
        .output()
        .expect("run presently-server");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What every server test starts from: a certificate registered for a confidential app
/// with `roles` (application permissions), a PostgreSQL cluster of its own, and the
/// emulator serving `users` tenant users with seeded calendars.
pub struct Fixture {
    /// Holds the certificate (and whatever else a test writes there).
    pub dir: tempfile::TempDir,
    pub cert: Certificate,
    pub pg: Postgres,
    pub emu: Emulator,
    pub control: Control,
    pub users: Vec<String>,
}

impl Fixture {
    pub async fn new(roles: &[&str], users: usize) -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cert = make_certificate(dir.path(), "app");
        let pg = Postgres::start();
        let emu = emulator().await;
        let control = emu.control();
        control
            .register_confidential_app(CLIENT_ID, Some(&cert.cert_pem), &[], roles)
            .expect("register the app");
        let users = control
            .add_users(users)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        Fixture {
            dir,
            cert,
            pg,
            emu,
            control,
            users,
        }
    }

    /// A worker of its own (see [`worker`]).
    pub async fn worker(
        &self,
        clock: Arc<dyn Clock>,
        id: &str,
        lease_secs: i64,
        max_mailboxes: i64,
    ) -> (Worker, Arc<Store>) {
        worker(
            &self.pg,
            &self.emu,
            &self.cert,
            clock,
            id,
            lease_secs,
            max_mailboxes,
        )
        .await
    }

    /// A worker that has made the fixture's users the synced mailboxes and made its first
    /// lease pass (what that pass did is returned).
    pub async fn claiming_worker(
        &self,
        clock: Arc<dyn Clock>,
        id: &str,
        lease_secs: i64,
        max_mailboxes: i64,
    ) -> (Worker, Arc<Store>, LeasePass) {
        let (mut worker, store) = self.worker(clock, id, lease_secs, max_mailboxes).await;
        store.set_users(&self.users).await.expect("set the users");
        let pass = worker.maintain_leases().await.expect("a lease pass");
        (worker, store, pass)
    }
}
