//! `presently-server`: serve (sync every configured user's calendar), status, users, history,
//! check.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use presently_engine::{Clock, SystemClock};
use presently_server::sync::SyncContext;
use presently_server::worker::{Worker, WorkerOptions};
use presently_server::{open_store, token_source, ServerConfig};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "presently-server",
    version,
    about = "Presently's server mode: organization-wide calendar sync with app-only access, on PostgreSQL"
)]
struct Cli {
    /// The server configuration (TOML).
    #[arg(
        long,
        global = true,
        default_value = "server.toml",
        env = "PRESENTLY_SERVER_CONFIG"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Claim mailboxes and keep their calendars in sync until stopped (SIGINT or SIGTERM);
    /// SIGHUP reads the policy file again.
    Serve,
    /// Show every mailbox: who holds its lease, its fencing token, when it last synced.
    Status,
    /// Show the configured users (the list and the groups' members) and whether each is in
    /// the database.
    Users,
    /// Show how the next round of a user's calendar would start, and who holds the lease.
    Plan {
        #[arg(long)]
        user: String,
    },
    /// Show the latest completed rounds (of one user with --user).
    History {
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Check the configuration: read it, read the key or secret, get a token, read the
    /// groups and the first user's calendar, reach the database and apply its migrations,
    /// and (with [notifications]) send Graph's validation handshake through the public URL.
    Check,
}

/// `println!` that ends the command quietly when the reader went away (`status | head`)
/// rather than panicking on the broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        match writeln!(std::io::stdout().lock(), $($arg)*) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
    }};
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PRESENTLY_LOG")
                // The driver's NOTICEs (a migration's "already exists, skipping") are noise.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The error's code (`webhook_unreachable`, `permission_missing`, …), when it
            // has one: what the documentation and the logs name.
            match e
                .chain()
                .find_map(|c| c.downcast_ref::<presently_server::ServerError>())
            {
                Some(server) => eprintln!("presently-server: {e:#} [{}]", server.code()),
                None => eprintln!("presently-server: {e:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = ServerConfig::load(&cli.config)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command {
        Command::Check => check(&config, clock).await,
        Command::Serve => serve(config, &cli.config, clock).await,
        Command::Status => {
            let store = open_store(&config, clock.clone()).await?;
            store.migrate().await?;
            outln!(
                "{:<48} {:<8} {:<28} {:>6} {:<25} {:>6}",
                "MAILBOX",
                "ENABLED",
                "OWNER",
                "TOKEN",
                "LAST SYNCED",
                "ITEMS"
            );
            let mailboxes = store.mailboxes().await?;
            for m in &mailboxes {
                outln!(
                    "{:<48} {:<8} {:<28} {:>6} {:<25} {:>6}",
                    m.id,
                    m.enabled,
                    m.owner.as_deref().unwrap_or("-"),
                    m.fencing_token,
                    m.last_synced_at.map_or("-".into(), |t| t.to_rfc3339()),
                    m.appointments
                );
            }
            let presence = store.presence_summary().await?;
            if !presence.is_empty() {
                outln!();
                outln!(
                    "{:<28} {:>8} {:>12} {:>8} {:>9}",
                    "PRESENCE BY WORKER",
                    "HOLDING",
                    "OPEN WRITES",
                    "APPLIED",
                    "RESTORED"
                );
                for p in presence {
                    outln!(
                        "{:<28} {:>8} {:>12} {:>8} {:>9}",
                        p.worker.as_deref().unwrap_or("-"),
                        p.holding,
                        p.open_writes,
                        p.applied,
                        p.restored
                    );
                }
            }
            let subscriptions = store.subscriptions().await?;
            if config.notifications.is_some() || !subscriptions.is_empty() {
                outln!();
                outln!(
                    "{}",
                    subscription_summary(&mailboxes, &subscriptions, clock.now())
                );
            }
            Ok(())
        }
        Command::Users => {
            let configured = if config.users.groups.is_empty() {
                config.users.list.clone()
            } else {
                let tokens = token_source(&config, clock.clone())?;
                let graph = presently_engine::graph::GraphClient::new(&config.graph.endpoint)?;
                let policy = presently_server::load_policy(&config)?;
                presently_server::directory::configured_users(
                    &config,
                    &graph,
                    &tokens,
                    policy.as_deref(),
                )
                .await?
            };
            let store = open_store(&config, clock).await?;
            store.migrate().await?;
            let known = store.mailboxes().await?;
            for user in &configured {
                let state = match known.iter().find(|m| &m.id == user) {
                    Some(m) if m.enabled => "in the database",
                    Some(_) => "in the database, disabled",
                    None => "not yet in the database (serve adds it)",
                };
                outln!("{user}\t{state}");
            }
            for m in known.iter().filter(|m| !configured.contains(&m.id)) {
                outln!("{}\tno longer configured (disabled, data kept)", m.id);
            }
            Ok(())
        }
        Command::Plan { user } => {
            let store = open_store(&config, clock.clone()).await?;
            store.migrate().await?;
            let mailbox = store
                .mailboxes()
                .await?
                .into_iter()
                .find(|m| m.id == user)
                .with_context(|| {
                    format!(
                        "{user} is not in the database (is it in [users] list, and has serve run?)"
                    )
                })?;
            let state = store.sync_state(&user).await?;
            let policy = presently_server::load_policy(&config)?;
            let rules = presently_server::policy::for_user(policy.as_deref(), &user, &config.sync)?;
            let window = presently_engine::sync::Window::around(
                clock.now().date_naive(),
                rules.days_back,
                rules.days_ahead,
            );
            let graph = url::Url::parse(&config.graph.endpoint)?;
            let plan =
                presently_server::sync::plan_user_round(state.as_ref(), &graph, &user, window)?;
            let link = url::Url::parse(&plan.first_link)?;
            outln!(
                "user: {user} ({})",
                if mailbox.enabled {
                    "enabled"
                } else {
                    "disabled: no longer configured"
                }
            );
            outln!(
                "lease: {} (fencing token {}, until {})",
                mailbox.owner.as_deref().unwrap_or("nobody"),
                mailbox.fencing_token,
                mailbox
                    .lease_expires_at
                    .map_or("-".into(), |t| t.to_rfc3339())
            );
            outln!(
                "window: {} to {}",
                window.start.to_rfc3339(),
                window.end.to_rfc3339()
            );
            outln!(
                "next round: {:?}{}",
                plan.kind,
                if plan.resumed {
                    ", resuming an interrupted round"
                } else {
                    ""
                }
            );
            // The path only: the query holds Graph's opaque sync state.
            outln!("first request: {}", link.path());
            outln!(
                "last synced: {}",
                state
                    .and_then(|s| s.last_synced_at)
                    .map_or("never".into(), |t| t.to_rfc3339())
            );
            if rules.automation == presently_engine::policy::Automation::Server {
                use presently_server::forwarding::{OrgForwarding, UserForwarding};
                match OrgForwarding::load(&config.forwarding)? {
                    None => outln!("forwarding: not switched (no [forwarding] provider)"),
                    Some(org) => match org.for_user(&user).await {
                        UserForwarding::Provider(_) => {
                            outln!("forwarding: through {}", org.provider_name())
                        }
                        UserForwarding::Unmapped(reason) => {
                            outln!("forwarding: not switched for this user: {reason}")
                        }
                    },
                }
            }
            Ok(())
        }
        Command::History { user, limit } => {
            let store = open_store(&config, clock).await?;
            store.migrate().await?;
            for r in store.history(user.as_deref(), limit).await? {
                outln!(
                    "{}\t{}\t{}\tpages={}\tupserted={}\tremoved={}\tworker={}\ttoken={}",
                    r.finished_at.to_rfc3339(),
                    r.mailbox,
                    r.round,
                    r.pages,
                    r.upserted,
                    r.removed,
                    r.worker,
                    r.fencing_token
                );
            }
            Ok(())
        }
    }
}

/// What `status` says of change notifications: held mailboxes with a live subscription,
/// those without one (named, the first ten), and the next expiry (renewed a day ahead).
fn subscription_summary(
    mailboxes: &[presently_server::store::MailboxStatus],
    subscriptions: &[presently_server::store::StoredSubscription],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let live: std::collections::HashMap<&str, chrono::DateTime<chrono::Utc>> = subscriptions
        .iter()
        .filter(|s| s.expires_at > now)
        .map(|s| (s.mailbox.as_str(), s.expires_at))
        .collect();
    let held: Vec<&str> = mailboxes
        .iter()
        .filter(|m| m.enabled && m.owner.is_some())
        .map(|m| m.id.as_str())
        .collect();
    let without: Vec<&str> = held
        .iter()
        .copied()
        .filter(|m| !live.contains_key(m))
        .collect();
    let mut text = format!(
        "change notifications: {} of {} held mailboxes subscribed",
        held.len() - without.len(),
        held.len()
    );
    if let Some(next) = live.values().min() {
        text.push_str(&format!("; next expiry {}", next.to_rfc3339()));
    }
    let expired = subscriptions.len() - live.len();
    if expired > 0 {
        text.push_str(&format!("; {expired} recorded but expired"));
    }
    if !without.is_empty() {
        let more = without.len().saturating_sub(10);
        text.push_str(&format!(
            "\nwithout a subscription (polled only): {}{}",
            without[..without.len().min(10)].join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    text
}

async fn check(config: &ServerConfig, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    outln!(
        "configuration: ok ({} users configured)",
        config.users.list.len()
    );
    let tokens = token_source(config, clock.clone())?;
    outln!("credential: read");
    tokens.token().await.context("getting an app-only token")?;
    outln!("token: issued by {}", config.identity.authority);
    let policy = presently_server::load_policy(config)?;
    if let Some(path) = &config.policy.file {
        outln!("policy: {} read", path.display());
    }
    let graph = presently_engine::graph::GraphClient::new(&config.graph.endpoint)?;
    let users =
        presently_server::directory::configured_users(config, &graph, &tokens, policy.as_deref())
            .await?;
    outln!(
        "users: {} ({} listed, {} groups read)",
        users.len(),
        config.users.list.len(),
        config.users.groups.len()
    );
    // One user's calendar, read as serve would: the application permission in force.
    if let Some(first) = users.first() {
        let rules = presently_server::policy::for_user(policy.as_deref(), first, &config.sync)?;
        let window = presently_engine::sync::Window::around(
            clock.now().date_naive(),
            rules.days_back,
            rules.days_ahead,
        );
        presently_server::sync::probe_user_calendar(&graph, &tokens, first, window).await?;
        outln!("calendars: {first}'s is readable");
    }
    // The users whose group has the server automate presence: the permission it needs.
    let mut automated = Vec::new();
    for user in &users {
        let rules = presently_server::policy::for_user(policy.as_deref(), user, &config.sync)?;
        if rules.automation == presently_engine::policy::Automation::Server {
            automated.push(user);
        }
    }
    match automated.first() {
        Some(first) => {
            presently_server::sync::probe_user_presence(&graph, &tokens, first).await?;
            outln!(
                "presence: automated for {} users; {first}'s can be read (Presence.ReadWrite.All)",
                automated.len()
            );
        }
        None => outln!("presence: no user's group has the server automate it"),
    }
    // Call forwarding: the credential is read and the provider answers with it.
    match presently_server::forwarding::OrgForwarding::load(&config.forwarding)? {
        Some(forwarding) => {
            let probe = automated.first().map(|u| u.as_str());
            let found = forwarding.check(probe).await?;
            outln!("forwarding: {found}");
        }
        None => outln!("forwarding: off (no [forwarding] provider)"),
    }
    let store = open_store(config, clock).await?;
    let version = store.migrate().await?;
    let tls = if store.connection_encrypted().await? {
        "TLS"
    } else {
        "not encrypted"
    };
    outln!("database: reachable ({tls}), schema version {version}");
    // Change notifications: Graph's validation handshake through the public URL must come
    // back from a presently-server webhook (the proxy forwards to [http] listen).
    if let (Some(n), Some(listen)) = (&config.notifications, config.http.listen) {
        let probed = presently_server::webhook::check_public_url(
            &n.public_url,
            &n.path,
            listen,
            Arc::new(store),
        )
        .await?;
        let through = match probed {
            presently_server::webhook::ProbedWebhook::OwnListener => {
                format!("check served the webhook on {listen} itself: no serve runs here")
            }
            presently_server::webhook::ProbedWebhook::Running => {
                format!("{listen} is in use: the running serve answered")
            }
        };
        outln!(
            "notifications: {} answers Graph's validation handshake ({through})",
            n.public_url
        );
    }
    Ok(())
}

async fn serve(
    config: ServerConfig,
    config_path: &std::path::Path,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    // SIGHUP reads the policy file again; listened for before anything else, so that an
    // early one does not end the process (its default action).
    #[cfg(unix)]
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("listening for SIGHUP")?;
    let policy = presently_server::load_policy(&config)?;
    let shared = presently_server::policy::SharedPolicy::new(policy.clone());
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(hangups, config.clone(), shared.clone()));
    let store = Arc::new(open_store(&config, clock.clone()).await?);
    store.migrate().await?;
    let tokens = Arc::new(token_source(&config, clock.clone())?);
    tokens.token().await.context("getting an app-only token")?;
    let forwarding = presently_server::forwarding::OrgForwarding::load(&config.forwarding)?;
    if let Some(f) = &forwarding {
        tracing::info!(
            provider = f.provider_name(),
            "call forwarding of the automated users is on"
        );
    }
    // Presence automation of the users whose policy group says `automation = "server"`.
    // On its own lane of the connections: the reserved ones are free for it whatever the
    // sync rounds hold ([database] reserved_for_presence).
    let presence = presently_server::presence::PresenceRunner::new(
        Arc::new(store.presence_lane()),
        tokens.clone(),
        &config.graph.endpoint,
        &config.identity.client_id,
        clock.clone(),
        shared.clone(),
        config.sync.clone(),
        presently_server::presence::PresenceOptions {
            check_interval: chrono::Duration::seconds(config.presence.check_interval_secs as i64),
            concurrent_mailboxes: config.presence.concurrent_mailboxes.max(1),
            batch: config
                .presence
                .batch
                .then(|| presently_server::batching::BatchOptions {
                    concurrent_batches: config.presence.concurrent_batches.max(1),
                    ..Default::default()
                }),
            ..Default::default()
        },
    );
    let ctx = SyncContext::new(
        store.clone(),
        tokens.clone(),
        &config.graph.endpoint,
        clock.clone(),
    )
    .with_tenant_limit(config.sync.tenant_concurrent_requests);
    let mut ctx = match config.sync.tenant_budget {
        Some(budget) => ctx.with_tenant_budget(budget),
        None => ctx,
    };
    if config.sync.batch {
        ctx = ctx.with_batcher(presently_server::batching::Batcher::start(
            &config.graph.endpoint,
            clock,
            tokens.clone(),
            presently_server::batching::BatchOptions {
                purpose: "delta poll",
                concurrent_batches: config.sync.concurrent_batches,
                ..Default::default()
            },
        )?);
    }
    ctx.page_size = config.sync.page_size;
    ctx.sync_config = config.sync.clone();
    ctx.policy = shared.clone();
    let worker_id = config
        .leases
        .worker_id
        .clone()
        .unwrap_or_else(presently_server::default_worker_id);
    tracing::info!(worker = %worker_id, users = config.users.list.len(), "serving");
    let worker = Worker::new(
        Arc::new(ctx),
        WorkerOptions {
            worker_id,
            lease_for: chrono::Duration::seconds(config.leases.lease_secs as i64),
            max_mailboxes: config.leases.max_mailboxes,
            // With notifications on, the regular rounds are only a safety poll.
            interval: chrono::Duration::seconds(match &config.notifications {
                Some(n) => n.safety_poll_secs as i64,
                None => config.sync.interval_secs as i64,
            }),
            // Batched, a poll is a share of a request: enough rounds at once to fill the
            // batches (full rounds' requests stay within tenant_concurrent_requests).
            concurrent_mailboxes: if config.sync.batch {
                config
                    .sync
                    .concurrent_mailboxes
                    .max(presently_engine::graph::batch::MAX_BATCH * config.sync.concurrent_batches)
            } else {
                config.sync.concurrent_mailboxes
            },
        },
    );
    // Users join and leave while the server runs: the list and the groups are read again
    // at every pass.
    // A group that cannot be read (no permission) stops serve here, named, rather than
    // leaving it idle.
    let graph = presently_engine::graph::GraphClient::new(&config.graph.endpoint)?;
    let users =
        presently_server::directory::configured_users(&config, &graph, &tokens, policy.as_deref())
            .await?;
    tracing::info!(
        users = users.len(),
        groups = config.users.groups.len(),
        "users to sync"
    );
    let users_source =
        presently_server::directory::users_source(config_path.to_owned(), graph, tokens, shared);
    let metrics = Arc::new(presently_server::metrics::Metrics::new());
    let worker = match &config.notifications {
        Some(n) => {
            // The holder of a mailbox is woken through PostgreSQL, whichever worker the
            // notification reached.
            let wakes = store.listen();
            tracing::info!(public_url = %n.public_url, path = %n.path, "change notifications on; safety poll every {} s", n.safety_poll_secs);
            worker.with_notifications(&n.public_url, wakes)
        }
        None => worker,
    };
    if let Some(listen) = config.http.listen {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen} ([http] listen)"))?;
        // Ready while lease passes (every third of the lease) reach the database.
        let app = presently_server::metrics::router(
            metrics.clone(),
            Arc::new(SystemClock),
            chrono::Duration::seconds(config.leases.lease_secs as i64),
        );
        let app = match &config.notifications {
            Some(n) => app.merge(presently_server::webhook::router(
                &n.path,
                store.clone(),
                metrics.clone(),
            )),
            None => app,
        };
        tracing::info!(%listen, "health and metrics on /healthz, /readyz, /metrics");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "the health and metrics server stopped");
            }
        });
    }
    worker
        .with_users_source(users_source)
        .with_presence(
            presence
                .with_forwarding(forwarding)
                .with_metrics(metrics.clone()),
        )
        .with_metrics(metrics)
        .run(shutdown_signal())
        .await?;
    Ok(())
}

/// Reads the policy file again at each SIGHUP (systemd's `ExecReload`). The new file is
/// checked whole first ([`presently_server::policy::reload`]); a file that does not check
/// is logged as an error and the policy in force stays (nothing of it is applied).
#[cfg(unix)]
async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    config: presently_server::ServerConfig,
    shared: presently_server::policy::SharedPolicy,
) {
    while hangups.recv().await.is_some() {
        let Some(path) = config.policy.file.as_deref() else {
            tracing::warn!("SIGHUP: no [policy] file is configured; nothing to read again");
            continue;
        };
        match presently_server::policy::reload(path, &config.sync) {
            Ok(policy) => {
                tracing::info!(file = %path.display(), groups = policy.groups.len(), "SIGHUP: the policy was read again and is in force");
                shared.replace(Some(Arc::new(policy)));
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "SIGHUP: the policy file cannot be used; the policy in force stays");
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::subscription_summary;
    use presently_server::store::{MailboxStatus, StoredSubscription};

    #[test]
    fn status_names_the_held_mailboxes_without_a_live_subscription() {
        let now: chrono::DateTime<chrono::Utc> = "2026-12-07T09:00:00Z".parse().unwrap();
        let mailbox = |id: &str, owner: Option<&str>| MailboxStatus {
            id: id.into(),
            enabled: true,
            owner: owner.map(Into::into),
            lease_expires_at: None,
            fencing_token: 1,
            last_synced_at: None,
            appointments: 0,
        };
        let subscription = |mailbox: &str, hours: i64| StoredSubscription {
            mailbox: mailbox.into(),
            id: format!("sub-{mailbox}"),
            client_state: "x".into(),
            expires_at: now + chrono::Duration::hours(hours),
        };
        let mailboxes = [
            mailbox("a@contoso.com", Some("w1")),
            mailbox("b@contoso.com", Some("w1")),
            mailbox("c@contoso.com", Some("w2")),
            mailbox("d@contoso.com", None),
        ];
        let text = subscription_summary(
            &mailboxes,
            &[
                subscription("a@contoso.com", 48),
                subscription("c@contoso.com", 20),
                subscription("b@contoso.com", -1),
            ],
            now,
        );
        assert_eq!(
            text,
            "change notifications: 2 of 3 held mailboxes subscribed; next expiry \
             2026-12-08T05:00:00+00:00; 1 recorded but expired\n\
             without a subscription (polled only): b@contoso.com"
        );
    }
}
