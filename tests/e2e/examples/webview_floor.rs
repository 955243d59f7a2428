//! The start-up floor of a WebKitGTK window on this machine: how long a process that does
//! nothing but open a 420×640 webview on a one-line page takes from its spawn to the page's
//! second animation frame (the same "painted" the app reports). Whatever the app does, its
//! own start-up cannot be shorter than this; BENCHMARKS.md ("Desktop app") sets the two side
//! by side.
//!
//! `xvfb-run -a cargo run --release -p presently-e2e --example webview_floor [RUNS]`
//! spawns itself RUNS times (default 9), one after another, and prints each spawn → painted
//! time and the median. The child runs with the environment the app sets for itself on Linux
//! (no accelerated compositing, no GDK OpenGL) and a page served the way the app's is (a
//! custom protocol), hidden until the page has run, as the app's window is.
//!
//! `FLOOR_PAGE=FILE` loads FILE instead of the one-line page: with the page
//! `ui/tests/static-agenda.mjs` writes (the agenda's DOM and styles, no script of the app's),
//! it measures what the agenda's styles cost WebKit; `FLOOR_TRACE=1` prints its layout time.
//! `--child` alone is one launch (it prints `painted`); with `FLOOR_HOLD=1` it then stays
//! open: the footprint bench (tests/e2e/benches/footprint.rs) launches it so, between the
//! app's launches, for start-up and memory ratios measured in one run.

#[cfg(target_os = "linux")]
fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some(CHILD_ARG) => child(),
        other => {
            let runs = other.and_then(|n| n.parse().ok()).unwrap_or(9_usize).max(1);
            if let Err(e) = parent(runs) {
                eprintln!("webview_floor: {e}");
                std::process::exit(1);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("webview_floor measures WebKitGTK; it runs on Linux only");
}

#[cfg(target_os = "linux")]
const CHILD_ARG: &str = "--child";

/// Spawns the child `runs` times and reads the line it prints after its paint: reading a
/// pipe blocks until the line is there, so no polling delay is in the figure.
#[cfg(target_os = "linux")]
fn parent(runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::BufRead;
    let me = std::env::current_exe()?;
    let mut times = Vec::with_capacity(runs);
    for run in 1..=runs {
        let spawned = std::time::Instant::now();
        let mut child = std::process::Command::new(&me)
            .arg(CHILD_ARG)
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let ms = spawned.elapsed().as_secs_f64() * 1000.0;
        child.wait()?;
        if line.trim() != "painted" {
            return Err(format!("run {run}: the child said {line:?}, not that it painted").into());
        }
        println!("run {run}: spawn → painted {ms:.0} ms");
        times.push(ms);
        // Let the previous run's processes go before the next one starts.
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    println!("webview floor over {runs} runs: spawn → painted median {median:.0} ms, min {:.0} ms, max {max:.0} ms", times[0]);
    Ok(())
}

#[cfg(target_os = "linux")]
fn child() {
    use tao::event::{Event, WindowEvent};
    use tao::event_loop::{ControlFlow, EventLoopBuilder};
    use tao::platform::unix::WindowExtUnix;
    use tao::window::WindowBuilder;
    use wry::WebViewBuilderExtUnix;

    let started = std::time::Instant::now();
    let trace = std::env::var_os("FLOOR_TRACE").is_some();
    let hold = std::env::var_os("FLOOR_HOLD").is_some();
    let mark = move |what: &str| {
        if trace {
            eprintln!("{:7.1} ms {what}", started.elapsed().as_secs_f64() * 1000.0);
        }
    };
    // What presently-app's main sets before GTK starts.
    std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    std::env::set_var("GDK_GL", "disable");

    const PAGE: &str = "<!doctype html><html><head><meta charset=utf-8><title>floor</title>\
        </head><body><p>Floor</p><script>window.ipc.postMessage('ready'); \
        requestAnimationFrame(() => requestAnimationFrame(() => \
        window.ipc.postMessage('painted')));</script></body></html>";
    // Another page in the same window: one that posts `ready` and `painted` as this one does
    // (ui/tests/static-agenda.mjs writes the agenda so).
    let page: std::borrow::Cow<'static, [u8]> = match std::env::var_os("FLOOR_PAGE") {
        None => PAGE.as_bytes().into(),
        Some(path) => match std::fs::read(&path) {
            Ok(bytes) => bytes.into(),
            Err(e) => {
                eprintln!("cannot read FLOOR_PAGE {}: {e}", path.to_string_lossy());
                std::process::exit(1);
            }
        },
    };

    #[derive(Debug)]
    enum Page {
        Ready,
        Painted,
    }
    let event_loop = EventLoopBuilder::<Page>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    let window = match WindowBuilder::new()
        .with_title("floor")
        .with_inner_size(tao::dpi::LogicalSize::new(420.0, 640.0))
        // As the app does: hidden until the page ran (showing it before WebKit's web process
        // is up stalls both for ~500 ms in about half the launches).
        .with_visible(false)
        .build(&event_loop)
    {
        Ok(window) => window,
        Err(e) => {
            eprintln!("no window: {e}");
            std::process::exit(1);
        }
    };
    mark("window built");
    let Some(vbox) = window.default_vbox() else {
        eprintln!("no GTK container");
        std::process::exit(1);
    };
    let built = wry::WebViewBuilder::new()
        .with_custom_protocol("floor".into(), move |_id, _request| {
            wry::http::Response::builder()
                .header("Content-Type", "text/html")
                .body(page.clone())
                .unwrap_or_default()
        })
        .with_url("floor://localhost/")
        .with_ipc_handler(move |request| {
            let message = match request.body().as_str() {
                "ready" => Page::Ready,
                "painted" => Page::Painted,
                other => {
                    // The page's own figures (`mark:layout 53.0 ms`), in the trace.
                    if let Some(text) = other.strip_prefix("mark:") {
                        mark(&format!("page: {text}"));
                    }
                    return;
                }
            };
            let _ = proxy.send_event(message);
        })
        .build_gtk(vbox);
    let _webview = match built {
        Ok(webview) => {
            mark("webview built");
            webview
        }
        Err(e) => {
            eprintln!("no webview: {e}");
            std::process::exit(1);
        }
    };
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            Event::UserEvent(Page::Ready) => {
                mark("page ran; showing the window");
                window.set_visible(true);
            }
            Event::UserEvent(Page::Painted) => {
                mark("painted");
                println!("painted");
                // FLOOR_HOLD: stay open, so the footprint bench can read the memory of a
                // painted bare webview (it ends the process group itself).
                if !hold {
                    *control_flow = ControlFlow::Exit;
                }
            }
            Event::WindowEvent {
                event: WindowEvent::CloseRequested,
                ..
            } => *control_flow = ControlFlow::Exit,
            _ => {}
        }
    });
}
