//! The commands the UI invokes. Each one only translates: arguments in, an engine call,
//! `{code, message}` errors out. They run on the async runtime, never on the main thread.

use crate::state::{
    BrowserSignIn, DeviceCode, SettingsView, Shell, SignInInfo, SignInProgress, SIGN_IN_PROGRESS,
};
use chrono::NaiveDate;
use presently_engine::agenda::AgendaView;
use presently_engine::config::Config;
use presently_engine::presence::forwarding::ForwardingConfig;
use presently_engine::presence::{PlannedTransition, PresenceConfig};
use presently_engine::{ApiError, ErrorCode, OpenKind};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_opener::OpenerExt;

/// The agenda from `from` (`YYYY-MM-DD`, default today) for `days` days (default from the
/// configuration).
#[tauri::command]
pub async fn agenda(
    shell: State<'_, Shell>,
    from: Option<String>,
    days: Option<u32>,
) -> Result<AgendaView, ApiError> {
    let from = from.as_deref().map(parse_date).transpose()?;
    let started = std::time::Instant::now();
    let view = shell.agenda(from, days)?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "agenda answered"
    );
    Ok(view)
}

/// The live preview of presence automation: the transitions it would make from now
/// through the end of today (or over `hours`), for the settings page.
#[tauri::command]
pub async fn presence_plan(
    shell: State<'_, Shell>,
    hours: Option<u32>,
) -> Result<Vec<presently_engine::presence::PlannedTransition>, ApiError> {
    let engine = shell.engine()?;
    let now = engine.now();
    let to = match hours {
        Some(h) => now + chrono::Duration::hours(i64::from(h.clamp(1, 24 * 14))),
        None => end_of_today(engine),
    };
    Ok(engine.presence_plan(now, to)?)
}

/// "Don't switch for this one" from an appointment's detail view: `skip` true skips the
/// appointment `id` (with `series`, its whole series), false takes every skip covering it
/// back. Answers whether anything changed; the agenda is sent again (its `skipped` badge).
#[tauri::command]
pub async fn presence_skip<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
    series: bool,
    skip: bool,
) -> Result<bool, ApiError> {
    let target = presently_engine::SkipTarget::Appointment(id);
    Ok(shell.skip_presence(&app, &target, series, skip)?.changed)
}

/// The status, with what presence automation keeps failing at.
#[tauri::command]
pub async fn status(shell: State<'_, Shell>) -> Result<crate::state::AppStatus, ApiError> {
    tracing::debug!("status asked");
    shell.app_status()
}

/// Syncs now; the UI hears `agenda-changed` and `status-changed` as it happens.
#[tauri::command]
pub async fn sync_now(shell: State<'_, Shell>) -> Result<(), ApiError> {
    shell.request_sync()
}

/// Opens the appointment in Outlook (see [`open_or_join`]).
#[tauri::command]
pub async fn open_item<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
) -> Result<(), ApiError> {
    open_or_join(&app, &shell, &id, OpenKind::Outlook).await
}

/// What every Open and Join does, wherever it was clicked (the agenda, the tray, a
/// reminder). Open: in classic desktop Outlook where it is installed (Windows), else, or
/// when that fails, in Outlook on the web. Join: the meeting's link.
pub async fn open_or_join<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Shell,
    id: &str,
    kind: OpenKind,
) -> Result<(), ApiError> {
    if kind == OpenKind::Outlook {
        if let Some(outlook) = presently_engine::links::find_classic_outlook() {
            match open_in_desktop_outlook(shell, id, &outlook).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::info!(error = %e, "desktop Outlook did not open the item; opening Outlook on the web")
                }
            }
        }
    }
    open(app, shell, id, kind)
}

/// [`open_or_join`] from a menu or a notification: in the background, failures logged.
pub fn spawn_open_or_join<R: Runtime>(app: &AppHandle<R>, id: String, kind: OpenKind) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        if let Err(e) = open_or_join(&app, &shell, &id, kind).await {
            tracing::warn!(code = ?e.code, message = %e.message, ?kind, "cannot open the appointment");
        }
    });
}

/// Classic desktop Outlook (Windows): the item's entry id from Graph, then
/// `OUTLOOK.EXE /select outlook:<EntryID>`.
async fn open_in_desktop_outlook(
    shell: &Shell,
    id: &str,
    outlook: &std::path::Path,
) -> Result<(), presently_engine::Error> {
    let engine = shell
        .engine_with_appointment(id)
        .map_err(|e| presently_engine::Error::InvalidInput(e.message))?;
    let target = engine.outlook_desktop_target(id).await?;
    let (program, args) =
        presently_engine::links::outlook_desktop_command(outlook, &target.entry_id_hex);
    std::process::Command::new(&program)
        .args(&args)
        .spawn()
        .map_err(|source| presently_engine::Error::Io {
            path: program.clone(),
            source,
        })?;
    tracing::info!("opened the appointment in desktop Outlook");
    Ok(())
}

/// Opens the appointment's online meeting.
#[tauri::command]
pub async fn join_meeting<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
) -> Result<(), ApiError> {
    open(&app, &shell, &id, OpenKind::Join)
}

/// The app registration and authority sign-in uses (`configured` is false until an
/// application ID is set).
#[tauri::command]
pub async fn sign_in_info(shell: State<'_, Shell>) -> Result<SignInInfo, ApiError> {
    shell.sign_in_info()
}

/// Starts an interactive sign-in in the system browser and answers once the browser was
/// asked to open; the outcome arrives as `sign-in-progress` (`signed_in`, `failed`).
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
) -> Result<BrowserSignIn, ApiError> {
    shell.start_browser_sign_in(&app).await
}

/// Starts a device-code sign-in and answers the code at once; the outcome arrives as
/// `sign-in-progress`.
#[tauri::command]
pub async fn sign_in_device<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
) -> Result<DeviceCode, ApiError> {
    shell.start_device_sign_in(&app).await
}

/// Cancels the sign-in under way (if any) and emits `sign-in-progress` `cancelled`.
#[tauri::command]
pub async fn cancel_sign_in<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
) -> Result<(), ApiError> {
    if shell.cancel_sign_in() {
        app.emit(SIGN_IN_PROGRESS, SignInProgress::Cancelled)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    }
    Ok(())
}

/// Signs out; the local calendar stays. The UI hears `status-changed`.
#[tauri::command]
pub async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
) -> Result<(), ApiError> {
    shell.sign_out(&app).await
}

/// "Add account" on the settings page: starts named account `name` and signs it in
/// through the system browser; `accounts-changed` tells when it ended.
#[tauri::command]
pub async fn account_add<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
) -> Result<BrowserSignIn, ApiError> {
    shell.add_account(&app, &name).await
}

/// Signs named account `name` in again.
#[tauri::command]
pub async fn account_sign_in<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
) -> Result<BrowserSignIn, ApiError> {
    shell.sign_in_account(&app, &name).await
}

/// Signs named account `name` out; the others stay signed in.
#[tauri::command]
pub async fn account_sign_out<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
) -> Result<(), ApiError> {
    shell.sign_out_account(&app, &name).await
}

/// Removes named account `name` (signed out, its files deleted).
#[tauri::command]
pub async fn account_remove<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
) -> Result<(), ApiError> {
    shell.remove_account(&app, &name).await
}

/// The settings page: the settings in force, what the organization locked, the account,
/// the application and the calendars to choose from.
#[tauri::command]
pub async fn settings_get<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
) -> Result<SettingsView, ApiError> {
    tracing::debug!("settings asked");
    let mut view = shell.settings_view()?;
    view.join_shortcut = crate::shortcut::status(&app);
    Ok(view)
}

/// Validates the edited settings, writes what differs from the defaults and the
/// organization's settings to the user's file (atomically) and applies them at once.
#[tauri::command]
pub async fn settings_save<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    config: Config,
) -> Result<SettingsView, ApiError> {
    let before = shell.engine()?.config().app.clone();
    let applied = shell.save_settings(&app, config).await?;
    if applied.app.start_at_login != before.start_at_login {
        crate::autostart::apply(&app, &shell, applied.app.start_at_login)?;
    }
    if applied.app.join_shortcut != before.join_shortcut {
        crate::shortcut::apply(&app, &applied.app.join_shortcut);
    }
    let mut view = shell.settings_view()?;
    view.join_shortcut = crate::shortcut::status(&app);
    Ok(view)
}

/// The rest of today's presence plan with a draft presence configuration (not saved).
#[tauri::command]
pub async fn presence_preview(
    shell: State<'_, Shell>,
    presence: PresenceConfig,
) -> Result<Vec<PlannedTransition>, ApiError> {
    let engine = shell.engine()?;
    let now = engine.now();
    let (from, to) = (now, end_of_today(engine));
    Ok(engine.presence_plan_draft(&presence, from, to)?)
}

/// What the forwarding Test button shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ForwardingTest {
    pub ok: bool,
    pub message: String,
}

/// Tries a call-forwarding configuration by reading the setting in force through it.
#[tauri::command]
pub async fn forwarding_test(
    shell: State<'_, Shell>,
    forwarding: ForwardingConfig,
) -> Result<ForwardingTest, ApiError> {
    shell.check_forwarding_draft(&forwarding)?;
    let engine = shell.engine()?.clone();
    Ok(match engine.forwarding_test(&forwarding).await {
        Ok(message) => ForwardingTest { ok: true, message },
        Err(e) => ForwardingTest {
            ok: false,
            message: e.to_string(),
        },
    })
}

/// Keeps a call-forwarding provider's secret (Webex token, AMI password, the HTTP
/// provider's `{secret}`) in the OS keyring; it never reaches the settings file or a log.
/// It is tied to where `forwarding` (the page's draft; the saved settings when absent)
/// sends it, and goes nowhere else.
#[tauri::command]
pub async fn forwarding_secret_save(
    shell: State<'_, Shell>,
    provider: String,
    secret: secrecy::SecretString,
    forwarding: Option<ForwardingConfig>,
) -> Result<(), ApiError> {
    use presently_engine::presence::forwarding::{AMI_SECRET, HTTP_SECRET, WEBEX_SECRET};
    use secrecy::ExposeSecret;
    let entry = match provider.as_str() {
        "webex" => WEBEX_SECRET,
        "ami" => AMI_SECRET,
        "http" => HTTP_SECRET,
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("{other:?} keeps no secret; expected webex, ami or http"),
            ))
        }
    };
    if secret.expose_secret().trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the secret is empty",
        ));
    }
    let engine = shell.engine()?;
    let for_config = forwarding.unwrap_or_else(|| engine.config().presence.forwarding.clone());
    Ok(engine.save_forwarding_secret(entry, &secret, &for_config)?)
}

/// First launch without a provisioned application: saves the application (client) ID and
/// directory (tenant) ID the user's administrator gave them.
#[tauri::command]
pub async fn set_registration<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    client_id: String,
    tenant: String,
) -> Result<SignInInfo, ApiError> {
    shell.set_registration(&app, &client_id, &tenant)
}

/// Opens the administrator's guide (shipped inside the app) in the system's viewer.
#[tauri::command]
pub async fn open_admin_guide<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
) -> Result<(), ApiError> {
    let engine = shell.engine()?;
    let path = engine.paths().data_dir.join("admin-guide.md");
    let io = |source| {
        ApiError::from(presently_engine::Error::Io {
            path: path.clone(),
            source,
        })
    };
    std::fs::create_dir_all(&engine.paths().data_dir).map_err(io)?;
    std::fs::write(&path, ADMIN_GUIDE).map_err(io)?;
    app.opener()
        .open_path(path.display().to_string(), None::<&str>)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot open the guide: {e}")))
}

/// The administrator's guide, as shipped.
const ADMIN_GUIDE: &str = include_str!("../../docs/admin.md");

/// Copies the meeting's join link (checked like Join) to the clipboard; answers it.
#[tauri::command]
pub async fn copy_join_link<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
) -> Result<String, ApiError> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let url = shell
        .engine_with_appointment(&id)?
        .open_target(&id, OpenKind::Join)?;
    app.clipboard()
        .write_text(url.as_str())
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot copy the link: {e}")))?;
    Ok(url.to_string())
}

/// The UI painted its first agenda: logged with the time since start and the wall-clock
/// instant (`scripts/bench-footprint.sh` reads it). Answers nothing.
#[tauri::command]
pub async fn ui_painted<R: Runtime>(
    app: AppHandle<R>,
    marks: Option<std::collections::BTreeMap<String, f64>>,
) -> Result<(), ApiError> {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The page's own marks, in ms since its time origin (navigation start).
        let marks: Vec<String> = marks
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| format!("{k}={v:.0}"))
            .collect();
        let since_start_ms = crate::STARTED
            .get()
            .map(|t| t.elapsed().as_secs_f64() * 1000.0)
            .unwrap_or(-1.0);
        tracing::info!(
            since_start_ms,
            unix_ms = presently_engine::clock::Clock::now(&presently_engine::SystemClock)
                .timestamp_millis(),
            page = %marks.join(" "),
            "agenda painted"
        );
    });
    // What the first paint did not need: the tray, the login item, the shortcut.
    crate::finish_startup_soon(&app);
    Ok(())
}

/// The page has built its first view: a new window, created hidden, is shown now (see
/// `show_view`). Showing it before WebKit's web process is ready can stall both processes
/// for half a second at start-up.
#[tauri::command]
pub async fn ui_ready<R: Runtime>(window: tauri::WebviewWindow<R>) -> Result<(), ApiError> {
    crate::reveal(&window, "the page is ready");
    Ok(())
}

/// Closes the window, as its title bar's close button does (Ctrl+W, ⌘W): Presently stays
/// in the tray.
#[tauri::command]
pub async fn close_window<R: Runtime>(window: tauri::WebviewWindow<R>) -> Result<(), ApiError> {
    tracing::info!("window closed from the keyboard");
    window
        .close()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot close the window: {e}")))
}

/// Midnight at the end of today in the display zone.
fn end_of_today(engine: &presently_engine::Engine) -> chrono::DateTime<chrono::Utc> {
    let tz = engine.config().display_timezone();
    let tomorrow = engine.today().succ_opt().unwrap_or_else(|| engine.today());
    presently_engine::agenda::local_midnight(tz, tomorrow)
}

/// Asks the engine which URL belongs to `id` (it checks the host) and hands it to the system.
pub fn open<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Shell,
    id: &str,
    kind: OpenKind,
) -> Result<(), ApiError> {
    let url = shell.engine_with_appointment(id)?.open_target(id, kind)?;
    tracing::info!(host = url.host_str().unwrap_or(""), ?kind, "opening a link");
    app.opener()
        .open_url(url.as_str(), None::<&str>)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot open the link: {e}")))
}

fn parse_date(text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("{text:?} is not a date in the form YYYY-MM-DD"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_only() {
        assert_eq!(
            parse_date("2026-03-30"),
            Ok(NaiveDate::from_ymd_opt(2026, 3, 30).expect("date"))
        );
        for bad in ["30.03.2026", "2026-3-30x", "", "2026-02-30"] {
            let err = parse_date(bad).expect_err(bad);
            assert_eq!(err.code, ErrorCode::InvalidInput);
        }
    }
}
