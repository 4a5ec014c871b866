//! The tray icon and its menu: mute, deafen, show, quit. A menu rather than click
//! handlers, because Linux tray hosts (AppIndicator) never deliver icon clicks. The
//! menu follows the voice state, the push-to-talk status and the unread count; it
//! observes them, nothing calls into it.

use std::sync::Arc;

use cromulent_client::ptt::Backend;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Runtime};
use tokio::sync::watch;

use crate::bridge::PttStatus;
use crate::voice::{VoiceLink, VoiceSnapshot};

const TRAY_ID: &str = "main";

/// What the tray follows.
pub struct Observed {
    pub voice: Arc<VoiceLink>,
    pub ptt: watch::Receiver<Option<PttStatus>>,
    pub unread: watch::Receiver<i64>,
}

pub fn build<R: Runtime>(app: &AppHandle<R>, observed: Observed) -> tauri::Result<()> {
    let mute = CheckMenuItem::with_id(app, "mute", "Mute", true, false, None::<&str>)?;
    let deafen = CheckMenuItem::with_id(app, "deafen", "Deafen", true, false, None::<&str>)?;
    let ptt = MenuItem::with_id(app, "ptt", "Push-to-talk: starting…", false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", "Show Cromulent", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&mute, &deafen, &ptt, &separator, &show, &quit])?;
    let voice = Arc::clone(&observed.voice);
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .menu(&menu)
        .tooltip("Cromulent")
        .on_menu_event(move |app, event| on_menu(app, &voice, event));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    follow(observed.voice.subscribe(), move |s: &VoiceSnapshot| {
        // The check marks follow the voice state (the UI may have changed it).
        let _ = mute.set_checked(s.muted);
        let _ = deafen.set_checked(s.deafened);
    });
    follow(observed.ptt, move |status: &Option<PttStatus>| {
        if let Some(status) = status {
            let _ = ptt.set_text(ptt_text(status));
        }
    });
    let app = app.clone();
    follow(observed.unread, move |count: &i64| show_unread(&app, *count));
    Ok(())
}

/// Calls `show` with the current value and again after every change.
fn follow<T: Send + Sync + 'static>(mut changes: watch::Receiver<T>, show: impl Fn(&T) + Send + 'static) {
    tauri::async_runtime::spawn(async move {
        loop {
            show(&changes.borrow_and_update());
            if changes.changed().await.is_err() {
                return;
            }
        }
    });
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, voice: &VoiceLink, event: MenuEvent) {
    match event.id().as_ref() {
        "mute" => voice.set_mute(!voice.snapshot().muted),
        "deafen" => voice.set_deafen(!voice.snapshot().deafened),
        "show" => crate::desktop::show_main(app),
        "quit" => app.exit(0),
        _ => {}
    }
}

fn show_unread<R: Runtime>(app: &AppHandle<R>, count: i64) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let tip =
            if count > 0 { format!("Cromulent — {count} unread mentions") } else { "Cromulent".into() };
        let _ = tray.set_tooltip(Some(tip));
    }
}

/// Names the push-to-talk backend and key in the menu, and the reason in the tooltip's
/// place for it: the menu is what Linux tray hosts reliably show.
fn ptt_text(status: &PttStatus) -> String {
    let what = match (&status.error, status.backend) {
        (Some(_), _) => "in the window only",
        (None, Backend::Global) => "global key",
        (None, Backend::Portal) => "desktop shortcut",
        (None, Backend::Evdev) => "input devices",
        (None, Backend::Command) => "`cromulent ptt` command",
    };
    format!("Push-to-talk: {} ({what})", status.key)
}
