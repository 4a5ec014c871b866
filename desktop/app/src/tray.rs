//! The tray icon and its menu: mute, deafen, show, quit. A menu rather than click
//! handlers, because Linux tray hosts (AppIndicator) never deliver icon clicks.

use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

const TRAY_ID: &str = "main";

/// The menu items that follow the app's state.
pub struct TrayItems<R: Runtime> {
    mute: CheckMenuItem<R>,
    deafen: CheckMenuItem<R>,
    /// Which push-to-talk backend runs (disabled: information only).
    ptt: MenuItem<R>,
}

pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let mute = CheckMenuItem::with_id(app, "mute", "Mute", true, false, None::<&str>)?;
    let deafen = CheckMenuItem::with_id(app, "deafen", "Deafen", true, false, None::<&str>)?;
    let ptt = MenuItem::with_id(app, "ptt", "Push-to-talk: starting…", false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", "Show Cromulent", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&mute, &deafen, &ptt, &separator, &show, &quit])?;
    let mut tray = TrayIconBuilder::with_id(TRAY_ID).menu(&menu).tooltip("Cromulent").on_menu_event(on_menu);
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(TrayItems { mute, deafen, ptt });
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let voice = app.state::<crate::voice::VoiceLink>();
    match event.id().as_ref() {
        "mute" => {
            let muted = !voice.snapshot().muted;
            crate::voice::set_mute(app, muted);
        }
        "deafen" => {
            let deafened = !voice.snapshot().deafened;
            crate::voice::set_deafen(app, deafened);
        }
        "show" => crate::desktop::show_main(app),
        "quit" => app.exit(0),
        _ => {}
    }
}

/// Puts the check marks where the voice state is (the UI may have changed it).
pub fn show_voice<R: Runtime>(app: &AppHandle<R>, muted: bool, deafened: bool) {
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.mute.set_checked(muted);
        let _ = items.deafen.set_checked(deafened);
    }
}

pub fn show_unread<R: Runtime>(app: &AppHandle<R>, count: i64) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let tip =
            if count > 0 { format!("Cromulent — {count} unread mentions") } else { "Cromulent".into() };
        let _ = tray.set_tooltip(Some(tip));
    }
}

/// Names the push-to-talk backend and key in the menu, and the reason in the tooltip's
/// place for it: the menu is what Linux tray hosts reliably show.
pub fn show_ptt<R: Runtime>(app: &AppHandle<R>, status: &crate::ptt::PttStatus) {
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let what = match (&status.error, status.backend) {
            (Some(_), _) => "in the window only".to_string(),
            (None, cromulent_client::ptt::Backend::Global) => "global key".to_string(),
            (None, cromulent_client::ptt::Backend::Portal) => "desktop shortcut".to_string(),
            (None, cromulent_client::ptt::Backend::Evdev) => "input devices".to_string(),
            (None, cromulent_client::ptt::Backend::Command) => "`cromulent ptt` command".to_string(),
        };
        let _ = items.ptt.set_text(format!("Push-to-talk: {} ({what})", status.key));
    }
}
