//! The commands the UI invokes. Each is a few lines that hand over to the modules that
//! do the work; errors reach the UI as strings or as a [`CallFailure`].

use cromulent_protocol::gateway::ClientFrame;
use cromulent_protocol::user::OwnUser;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_autostart::ManagerExt;

use crate::account::{AppState, Config};
use crate::link::Link;
use crate::ptt::{PttState, PttStatus};
use crate::rest::{ApiCall, CallFailure};
use crate::voice::{VoiceLink, VoiceSnapshot};

type Result<T> = std::result::Result<T, String>;

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        config,
        server_remove,
        login,
        resume,
        logout,
        api,
        gateway_connect,
        gateway_close,
        gateway_send,
        voice_state,
        voice_set_volume,
        voice_set_mode,
        ptt_status,
        ptt_set_key,
        ptt_capture,
        set_evdev_opt_in,
        autostart,
        set_autostart,
    ]
}

/// The server list, accounts and push-to-talk settings (nothing secret).
#[tauri::command]
fn config(state: State<'_, AppState>) -> Config {
    state.config()
}

#[tauri::command]
fn server_remove(state: State<'_, AppState>, url: String) -> Result<Config> {
    state.update_config(|c| c.servers.remove(&url)).map_err(text)
}

#[tauri::command]
async fn login(
    state: State<'_, AppState>,
    server: String,
    email: String,
    password: String,
) -> Result<OwnUser> {
    state.login(&server, &email, password).await.map(|s| s.user).map_err(text)
}

/// Automatic login from the keyring; `None` when the user must log in.
#[tauri::command]
async fn resume(state: State<'_, AppState>, server: String) -> Result<Option<OwnUser>> {
    state.resume(&server).await.map(|s| s.map(|s| s.user)).map_err(text)
}

#[tauri::command]
async fn logout(state: State<'_, AppState>, link: State<'_, Link>) -> Result<()> {
    link.close().await;
    state.logout().await.map_err(text)
}

#[tauri::command]
async fn api(
    state: State<'_, AppState>,
    http: State<'_, reqwest::Client>,
    server: String,
    call: ApiCall,
) -> std::result::Result<serde_json::Value, CallFailure> {
    let session = state.session().await;
    // Only to the configured server: any other origin is refused before anything is sent.
    let configured = state.api_server(session.as_ref())?;
    configured.check(&server)?;
    crate::rest::call(&http, &configured, session.as_ref(), &call).await
}

#[tauri::command]
async fn gateway_connect<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    link: State<'_, Link>,
) -> Result<()> {
    let session = state.session().await.ok_or("not logged in")?;
    link.connect(&app, &session).await.map_err(text)
}

#[tauri::command]
async fn gateway_close(link: State<'_, Link>) -> Result<()> {
    link.close().await;
    Ok(())
}

#[tauri::command]
fn gateway_send<R: Runtime>(app: AppHandle<R>, link: State<'_, Link>, frame: ClientFrame) {
    crate::link::send_from_ui(&app, &link, frame);
}

#[tauri::command]
fn voice_state(voice: State<'_, VoiceLink>) -> VoiceSnapshot {
    voice.snapshot()
}

#[tauri::command]
fn voice_set_volume(voice: State<'_, VoiceLink>, user_id: cromulent_protocol::Id, volume: f32) {
    voice.set_volume(user_id, volume);
}

#[tauri::command]
fn voice_set_mode(voice: State<'_, VoiceLink>, mode: String) -> Result<()> {
    voice.set_mode(&mode)
}

#[tauri::command]
fn ptt_status(ptt: State<'_, PttState>) -> Option<PttStatus> {
    ptt.status()
}

#[tauri::command]
fn ptt_set_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    ptt: State<'_, PttState>,
    key: String,
) -> Result<()> {
    state.update_config(|c| c.ptt_key = Some(key.clone())).map_err(text)?;
    ptt.set_key(&cromulent_client::ptt::PttKey::new(key));
    if let Some(status) = ptt.status() {
        crate::tray::show_ptt(&app, &status);
    }
    Ok(())
}

/// The next key pressed anywhere becomes the key (`ptt://captured`); false when only
/// the window can capture.
#[tauri::command]
fn ptt_capture(ptt: State<'_, PttState>) -> bool {
    ptt.capture_next()
}

/// Takes effect at the next start, when the backend is chosen again.
#[tauri::command]
fn set_evdev_opt_in(state: State<'_, AppState>, enabled: bool) -> Result<()> {
    state.update_config(|c| c.evdev_opt_in = enabled).map(|_| ()).map_err(text)
}

#[tauri::command]
fn autostart<R: Runtime>(app: AppHandle<R>) -> Result<bool> {
    app.autolaunch().is_enabled().map_err(text)
}

#[tauri::command]
fn set_autostart<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<()> {
    let launcher = app.autolaunch();
    if enabled { launcher.enable() } else { launcher.disable() }.map_err(text)
}
