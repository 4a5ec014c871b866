//! The Cromulent desktop app: a Tauri 2 shell that shows `desktop-ui` and runs everything
//! else natively through `cromulent-client`.
//!
//! - [`account`]: server list, login (refresh token to the OS keyring), automatic login
//!   at start, logout. Tokens stay in Rust; the UI only ever sees user data.
//! - [`rest`]: the UI's REST calls, made here with the access token attached.
//! - [`link`]: the gateway connection; every frame is forwarded to the UI as a Tauri
//!   event, and the UI's frames are sent on it. Voice ops go through [`voice`].
//! - [`voice`]: voice room membership, mute/deafen and the push-to-talk gate (mute wins).
//! - [`ptt`]: the global push-to-talk source picked for this desktop, and the reason.
//! - [`tray`], [`desktop`]: tray menu, close-to-tray, mention notifications, unread
//!   badge, start at login, WebKitGTK quirks.
//! - [`commands`]: the thin `#[tauri::command]`s the UI invokes.

pub mod account;
pub mod commands;
pub mod desktop;
pub mod link;
pub mod ptt;
pub mod rest;
pub mod servers;
pub mod tray;
pub mod voice;

use tauri::Manager;

/// Passed by the start-at-login entry, so the app starts in the tray.
pub const MINIMIZED_ARG: &str = "--minimized";

/// Starts the app; returns when the user quits.
pub fn run() {
    let started = std::time::Instant::now();
    desktop::apply_webkit_quirks();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,cromulent_desktop=debug".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: log files and test output stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    tauri::Builder::default()
        // First: a second launch hands over to the running app and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| desktop::show_main(app)))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![MINIMIZED_ARG]),
        ))
        .invoke_handler(commands::handler())
        .setup(|app| {
            app.manage(account::AppState::new(app.handle())?);
            app.manage(link::Link::new());
            app.manage(voice::VoiceLink::new(app.handle()));
            app.manage(desktop::Unread::default());
            app.manage(reqwest::Client::new());
            tray::build(app.handle())?;
            ptt::start(app.handle());
            if std::env::args().any(|a| a == MINIMIZED_ARG) {
                desktop::hide_main(app.handle());
            }
            Ok(())
        })
        .on_window_event(desktop::on_window_event)
        // The start-up time the benchmark reads (docs/BENCHMARKS.md, "Desktop app").
        .on_page_load(move |_webview, page| {
            if page.event() == tauri::webview::PageLoadEvent::Finished {
                tracing::info!(url = %page.url(), ms = started.elapsed().as_millis() as u64, "page loaded");
            }
        })
        .run(tauri::generate_context!())
        .expect("the Tauri runtime starts");
}
