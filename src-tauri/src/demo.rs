//! Demo mode (`--demo` or `PRESENTLY_DEMO=1`): the app signed in to an embedded Microsoft 365
//! emulator with a realistic week of meetings, its store in a directory of its own.

use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID};
use presently_engine::config::Config;
use presently_engine::paths::Paths;

/// Whether the command line or the environment asks for demo mode.
pub fn requested(args: &[String], env_demo: Option<&str>) -> bool {
    args.iter().skip(1).any(|a| a == "--demo")
        || env_demo.is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// The demo's files: a `demo` directory inside the data directory in force (the platform's,
/// or `PRESENTLY_DATA_DIR`), never the real store. See [`Paths::demo`].
pub fn paths(real: &Paths) -> Paths {
    real.demo()
}

/// Makes the demo's directory ready for a run: its store is deleted, so that each run
/// starts from the emulator's demo week of today, with nothing left of an earlier run (a
/// sync state pointing at that run's emulator, an older week, what presence automation
/// had in force). The demo's settings and logs stay.
pub fn prepare(paths: &Paths) -> std::io::Result<()> {
    std::fs::create_dir_all(&paths.data_dir)?;
    paths.remove_store()
}

/// The configuration the demo runs with: built in memory, pointing at the emulator.
pub fn config(base_url: &str) -> Config {
    let mut config = Config::default();
    config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = base_url.to_owned();
    config.microsoft.graph_endpoint = base_url.to_owned();
    config
}

/// The running emulator the demo signs in to.
pub struct DemoAccount {
    emulator: Emulator,
}

impl DemoAccount {
    /// Starts the emulator on 127.0.0.1 (any free port) with the demo week around `today`
    /// in `zone`, the zone the agenda shows (so the meetings fall in working hours there).
    pub async fn start(today: chrono::NaiveDate, zone: chrono_tz::Tz) -> anyhow::Result<Self> {
        let emulator = Emulator::start(EmulatorConfig {
            today,
            mailbox_tz: zone,
            seed: Seed::Demo,
            ..EmulatorConfig::default()
        })
        .await?;
        tracing::info!(base_url = %emulator.base_url(), "demo: emulator started");
        Ok(Self { emulator })
    }

    pub fn base_url(&self) -> String {
        self.emulator.base_url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn demo_is_requested_by_flag_or_environment() {
        assert!(requested(&args(&["presently-app", "--demo"]), None));
        assert!(requested(&args(&["presently-app"]), Some("1")));
        assert!(requested(&args(&["presently-app"]), Some("true")));
        assert!(!requested(&args(&["presently-app"]), Some("0")));
        assert!(!requested(&args(&["presently-app"]), None));
        // The program name itself is not an argument.
        assert!(!requested(&args(&["--demo"]), None));
    }

    #[test]
    fn demo_files_stay_out_of_the_real_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        // PRESENTLY_DATA_DIR names the real data directory: the demo goes inside it.
        let real = Paths::under(dir.path());
        let demo = paths(&real);
        assert_eq!(demo.data_dir, dir.path().join("demo"));
        assert_ne!(demo.store_file(), real.store_file());
        assert_ne!(demo.config_file, real.config_file);
        let default = paths(&Paths::resolve(None));
        assert!(default.data_dir.ends_with("demo"), "{:?}", default.data_dir);
    }

    #[test]
    fn each_demo_run_starts_from_a_fresh_store_and_leaves_the_real_one_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = Paths::under(dir.path());
        std::fs::write(real.store_file(), "the real store").expect("real store");
        let demo = paths(&real);
        prepare(&demo).expect("first run");
        // An earlier run's store, its journal and settings.
        for file in demo.store_files() {
            std::fs::write(&file, "an earlier run").expect("demo store");
        }
        std::fs::write(&demo.config_file, "[agenda]\ndays = 5\n").expect("demo settings");
        prepare(&demo).expect("second run");
        for file in demo.store_files() {
            assert!(!file.exists(), "{file:?} left from the earlier run");
        }
        assert!(demo.config_file.exists(), "the demo's settings stay");
        assert_eq!(
            std::fs::read_to_string(real.store_file()).expect("real store"),
            "the real store"
        );
    }

    #[test]
    fn demo_config_points_at_the_emulator_and_is_valid() {
        let c = config("http://127.0.0.1:4321");
        assert_eq!(c.microsoft.graph_endpoint, "http://127.0.0.1:4321");
        assert_eq!(c.microsoft.authority_host, "http://127.0.0.1:4321");
        assert_eq!(c.microsoft.client_id.as_deref(), Some(DEMO_CLIENT_ID));
        assert_eq!(c.validate(), Ok(()));
    }

    /// What the agenda shows, as the UI lists it (subject and times).
    fn shown(engine: &presently_engine::Engine) -> Vec<(String, String, String)> {
        let view = engine.agenda(None, Some(7)).expect("agenda");
        presently_engine::agenda::flatten(&view)
            .into_iter()
            .map(|i| (i.subject.clone(), i.start.clone(), i.end.clone()))
            .collect()
    }

    /// `scripts/run-demo.sh` twice in a row: the same demo store, the embedded emulator on
    /// another port the second time. Both runs sign in and sync as the app's demo start-up
    /// does (`Shell::demo_sign_in_and_sync`, without the window) and show the whole week.
    #[test]
    fn the_demo_runs_twice_on_the_same_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let first = crate::open_demo(paths(&Paths::under(dir.path()))).await;
            let engine = first.engine().expect("engine").clone();
            engine.sign_in_to_emulator().await.expect("sign in");
            engine.sync_now().await.expect("first demo run syncs");
            let week = shown(&engine);
            assert!(week.len() >= 5, "the demo week: {week:?}");
            let first_endpoint = engine.config().microsoft.graph_endpoint.clone();
            drop(engine);

            // The second run starts while the first emulator still holds its port, so its
            // emulator surely listens elsewhere; then the first goes away.
            let second = crate::open_demo(paths(&Paths::under(dir.path()))).await;
            drop(first);
            let engine = second.engine().expect("engine").clone();
            assert_ne!(engine.config().microsoft.graph_endpoint, first_endpoint);
            engine.sign_in_to_emulator().await.expect("sign in");
            let report = engine.sync_now().await.expect("second demo run syncs");
            assert_eq!(report.calendars.len(), 1, "{report:?}");
            assert_eq!(
                report.calendars[0].kind,
                presently_engine::engine::RoundRead::Full,
                "{report:?}"
            );
            assert_eq!(
                engine.status().expect("status").sync.state,
                presently_engine::engine::SyncPhase::Idle
            );
            assert_eq!(shown(&engine), week, "the same demo week both times");
        });
    }
}
