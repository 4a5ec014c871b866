//! The Cromulent desktop app: a Tauri 2 shell that shows `desktop-ui` and runs everything
//! else natively through `cromulent-client`. It holds windows, tray, commands and
//! events; accounts, tokens and REST calls are the client's
//! (`cromulent_client::account`), so the UI only ever sees user data.
//!
//! - [`commands`]: the thin `#[tauri::command]`s the UI invokes.
//! - [`bridge`]: the events the UI listens to, each a name with its payload type; the
//!   UI's TypeScript for them is generated from here.
//! - [`link`]: the gateway connection; every frame is forwarded to the UI as an event,
//!   and the UI's frames are sent on it. Voice ops go through [`voice`].
//! - [`voice`]: voice room membership, mute/deafen and the push-to-talk gate (mute wins),
//!   kept in one watched state that the tray and the UI observe.
//! - [`ptt`]: the global push-to-talk source picked for this desktop, and the reason.
//! - [`attachments`]: the native file dialog, and uploads and attachment downloads made
//!   with the app's token.
//! - [`updates`]: new versions of the app offered by its server, installed on the
//!   user's say-so.
//! - [`tray`], [`desktop`]: tray menu, close-to-tray, mention notifications, unread
//!   badge, start at login, WebKitGTK quirks.
//!
//! The parts are made once in [`run`] and handed to each other there; none looks
//! another up.

pub mod attachments;
pub mod bridge;
pub mod commands;
pub mod desktop;
pub mod link;
pub mod ptt;
pub mod tray;
pub mod updates;
pub mod voice;

use std::sync::Arc;

use cromulent_client::account::{device_name, Accounts};
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

    let unread = Arc::new(desktop::Unread::default());
    let (link, voice) = link::Link::new(Arc::clone(&unread));
    let window_unread = Arc::clone(&unread);

    tauri::Builder::default()
        // First: a second launch hands over to the running app and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| desktop::show_main(app)))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![MINIMIZED_ARG]),
        ))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .invoke_handler(commands::handler())
        .setup(move |app| {
            let config_path = app.path().app_config_dir()?.join("servers.json");
            let accounts = Arc::new(Accounts::open(config_path, device_name("Cromulent desktop")));
            voice.apply_sound(&accounts.config().sound);
            let ptt = Arc::new(ptt::PttState::default());
            tray::build(
                app.handle(),
                tray::Observed {
                    voice: Arc::clone(&voice),
                    ptt: ptt.subscribe(),
                    unread: unread.subscribe(),
                },
            )?;
            bridge::forward_voice(app.handle(), &voice);
            ptt::start(
                app.handle(),
                ptt::PttWiring {
                    state: Arc::clone(&ptt),
                    voice: Arc::clone(&voice),
                    accounts: Arc::clone(&accounts),
                },
            );
            app.manage(accounts);
            app.manage(link);
            app.manage(voice);
            app.manage(ptt);
            app.manage(Arc::new(attachments::Picked::default()));
            app.manage(updates::Updates::default());
            if std::env::args().any(|a| a == MINIMIZED_ARG) {
                desktop::hide_main(app.handle());
            }
            Ok(())
        })
        .on_window_event(move |window, event| desktop::on_window_event(&window_unread, window, event))
        // The start-up time the benchmark reads (docs/BENCHMARKS.md, "Desktop app").
        .on_page_load(move |_webview, page| {
            if page.event() == tauri::webview::PageLoadEvent::Finished {
                tracing::info!(url = %page.url(), ms = started.elapsed().as_millis() as u64, "page loaded");
            }
        })
        .run(tauri::generate_context!())
        .expect("the Tauri runtime starts");
}
