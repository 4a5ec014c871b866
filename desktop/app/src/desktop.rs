//! Being a good desktop citizen: close to tray, showing the window again, mention
//! notifications with sound, the unread badge (which the tray follows, see
//! [`Unread::subscribe`]), and WebKitGTK's quirks.

use cromulent_protocol::notification::Notification;
use tauri::{AppHandle, Manager, Runtime, Window, WindowEvent};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::watch;

/// Works around WebKitGTK rendering problems before GTK starts.
///
/// WebKitGTK's DMA-BUF renderer shows a blank (white or grey) window on some GPU
/// drivers (NVIDIA's proprietary one, older Mesa, virtual machines, Xvfb without GBM).
/// Turning it off costs little for a chat window and makes the UI appear everywhere.
/// Users who know their GPU is fine set `WEBKIT_DISABLE_DMABUF_RENDERER=0`; anything
/// already set is respected.
pub fn apply_webkit_quirks() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        // Safe in this position: no other thread exists yet at the top of `run`.
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
}

pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

pub fn hide_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.hide();
    }
}

/// Closing the window hides it: voice and push-to-talk keep working from the tray.
/// Quitting is in the tray menu. Focusing the window clears the unread badge.
pub fn on_window_event<R: Runtime>(unread: &Unread, window: &Window<R>, event: &WindowEvent) {
    match event {
        WindowEvent::CloseRequested { api, .. } if window.label() == "main" => {
            api.prevent_close();
            let _ = window.hide();
        }
        WindowEvent::Focused(true) => unread.set(window.app_handle(), 0),
        _ => {}
    }
}

/// Counts mentions that arrived while the window was not focused.
#[derive(Debug)]
pub struct Unread(watch::Sender<i64>);

impl Default for Unread {
    fn default() -> Self {
        Self(watch::Sender::new(0))
    }
}

impl Unread {
    /// Follows the count (the tray's tooltip).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.0.subscribe()
    }

    pub fn set<R: Runtime>(&self, app: &AppHandle<R>, count: i64) {
        self.0.send_replace(count);
        show_badge(app, count);
    }

    fn add_one<R: Runtime>(&self, app: &AppHandle<R>) {
        let mut count = 0;
        self.0.send_modify(|c| {
            *c += 1;
            count = *c;
        });
        show_badge(app, count);
    }
}

/// The badge where the desktop has one (macOS dock, Unity-style launchers on Linux).
fn show_badge<R: Runtime>(app: &AppHandle<R>, count: i64) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.set_badge_count((count > 0).then_some(count));
    }
}

/// A mention: system notification with sound, and one more on the badge when the user
/// is not looking at the window.
pub fn notify_mention<R: Runtime>(app: &AppHandle<R>, unread: &Unread, n: &Notification) {
    let focused = app.get_webview_window("main").and_then(|w| w.is_focused().ok()).unwrap_or(false);
    if focused {
        return;
    }
    unread.add_one(app);
    let shown = app
        .notification()
        .builder()
        .title("You were mentioned")
        .body(n.excerpt.clone())
        // The freedesktop sound theme's name for an incoming message; macOS and
        // Windows map "default" to their standard sound.
        .sound(if cfg!(target_os = "linux") { "message-new-instant" } else { "default" })
        .show();
    if let Err(e) = shown {
        tracing::warn!(error = %e, "could not show a notification");
    }
}
