//! The window's first paint, from the local store: a new window is created with the status
//! and the agenda already in the page (an initialization script that sets
//! `window.__PRESENTLY_BOOT__`), so the agenda is drawn in the page's first frame rather
//! than after IPC round trips that compete with the start-up sync. The page then asks again
//! in the background, after its listeners are attached, so nothing that changed in between
//! is missed (BENCHMARKS.md, "Desktop app").

use crate::state::{AppStatus, Shell};
use presently_engine::agenda::AgendaView;
use serde::Serialize;

/// The global the page reads once (and deletes).
pub const BOOT_GLOBAL: &str = "__PRESENTLY_BOOT__";

/// What the first paint needs.
#[derive(Debug, Serialize)]
pub struct Boot {
    /// The number of days the agenda holds (the `agenda.days` setting).
    pub days: u32,
    pub status: AppStatus,
    pub agenda: AgendaView,
}

impl Boot {
    /// The status and the agenda from the store; `None` while nobody is signed in or the
    /// store cannot answer (the page then takes its usual path and shows why).
    pub fn from_shell(shell: &Shell) -> Option<Self> {
        let status = shell.app_status().ok()?;
        if !status.view.account.signed_in {
            return None;
        }
        let engine = shell.engine().ok()?;
        let days = engine.config().agenda.days;
        let agenda = match shell.agenda(None, Some(days)) {
            Ok(agenda) => agenda,
            Err(e) => {
                tracing::info!(error = %e, "no agenda for the first paint");
                return None;
            }
        };
        Some(Self {
            days,
            status,
            agenda,
        })
    }

    /// The initialization script. The data is JSON, which is a JavaScript expression; the
    /// two line separators JSON allows raw inside strings are escaped as well, so no
    /// subject or location can end the statement early.
    pub fn script(&self) -> Result<String, serde_json::Error> {
        let json = serde_json::to_string(self)?
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        Ok(format!(
            "Object.defineProperty(window,'{BOOT_GLOBAL}',{{value:{json},writable:true,configurable:true}});"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presently_engine::engine::{AccountStatus, SyncPhase, SyncStatus};
    use presently_engine::StatusView;
    use std::sync::Arc;

    const HOSTILE: &str = "Q4 '}); alert(1); //\u{2028}</script><b>\u{2029}\"";

    fn boot() -> Boot {
        Boot {
            days: 3,
            status: AppStatus {
                view: StatusView {
                    account: AccountStatus {
                        signed_in: true,
                        upn: Some("megan@contoso.com".into()),
                        display_name: Some(HOSTILE.into()),
                        demo: false,
                    },
                    sync: SyncStatus {
                        state: SyncPhase::Idle,
                        last_synced_at: Some("2026-11-26T08:00:00Z".into()),
                        message: Some(HOSTILE.into()),
                    },
                    timezone: "Europe/Berlin".into(),
                },
                presence: Vec::new(),
            },
            agenda: AgendaView {
                timezone: "Europe/Berlin".into(),
                generated_at: "2026-11-26T08:00:00Z".into(),
                days: Vec::new(),
            },
        }
    }

    #[test]
    fn the_script_sets_exactly_the_data_whatever_the_strings_say() {
        let boot = boot();
        let script = boot.script().expect("script");
        let prefix = format!("Object.defineProperty(window,'{BOOT_GLOBAL}',{{value:");
        let suffix = ",writable:true,configurable:true});";
        assert!(script.starts_with(&prefix), "{script}");
        assert!(script.ends_with(suffix), "{script}");
        assert!(!script.contains('\u{2028}') && !script.contains('\u{2029}'));
        // The value is one JSON literal: it parses back to the same data, so no string in it
        // can close the object or the statement.
        let json = &script[prefix.len()..script.len() - suffix.len()];
        let parsed: serde_json::Value = serde_json::from_str(json).expect("one JSON value");
        assert_eq!(parsed, serde_json::to_value(&boot).expect("value"));
        assert_eq!(parsed["status"]["account"]["display_name"], HOSTILE);
    }

    #[test]
    fn nobody_signed_in_means_no_boot_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = presently_engine::Engine::open(presently_engine::EngineSetup {
            paths: presently_engine::paths::Paths::under(dir.path()),
            config: Default::default(),
            clock: Arc::new(presently_engine::SystemClock),
            demo: true,
        })
        .expect("engine");
        let provisioning = crate::settings::Provisioning::load(
            dir.path().join("no-policy"),
            dir.path().join("config.toml"),
            None,
        );
        let shell = Shell::new(Ok(engine), None, provisioning);
        assert!(Boot::from_shell(&shell).is_none());
    }
}
