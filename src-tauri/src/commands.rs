//! The commands the UI invokes. Each one only translates: arguments in, an engine call,
//! `{code, message}` errors out. They run on the async runtime, never on the main thread.

use crate::state::{
    BrowserSignIn, DeviceCode, Shell, SignInInfo, SignInProgress, SIGN_IN_PROGRESS,
};
use chrono::NaiveDate;
use presently_engine::agenda::AgendaView;
use presently_engine::{ApiError, ErrorCode, OpenKind, StatusView};
use tauri::{AppHandle, Emitter, Runtime, State};
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
    Ok(shell.engine()?.agenda(from, days)?)
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
        None => {
            let tz = engine.config().display_timezone();
            let tomorrow = engine.today().succ_opt().unwrap_or_else(|| engine.today());
            presently_engine::agenda::local_midnight(tz, tomorrow)
        }
    };
    Ok(engine.presence_plan(now, to)?)
}

#[tauri::command]
pub async fn status(shell: State<'_, Shell>) -> Result<StatusView, ApiError> {
    shell.status()
}

/// Syncs now; the UI hears `agenda-changed` and `status-changed` as it happens.
#[tauri::command]
pub async fn sync_now(shell: State<'_, Shell>) -> Result<(), ApiError> {
    shell.request_sync()
}

/// Opens the appointment in Outlook on the web.
#[tauri::command]
pub async fn open_item<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
) -> Result<(), ApiError> {
    open(&app, &shell, &id, OpenKind::Outlook)
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

/// Asks the engine which URL belongs to `id` (it checks the host) and hands it to the system.
pub fn open<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Shell,
    id: &str,
    kind: OpenKind,
) -> Result<(), ApiError> {
    let url = shell.engine()?.open_target(id, kind)?;
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
