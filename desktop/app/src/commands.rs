//! The commands the UI invokes. Each is a few lines that hand over to
//! `cromulent_client::account` (accounts, REST calls) or to the app's [`Link`],
//! [`VoiceLink`] and [`PttState`]; errors reach the UI as strings or as a [`CallFailure`].

use std::sync::Arc;

use cromulent_client::account::{Accounts, Config};
use cromulent_client::api::{ApiCall, CallFailure};
use cromulent_client::ptt::PttKey;
use cromulent_client::voice::sound::{SoundDevices, SoundSettings};
use cromulent_protocol::gateway::ClientFrame;
use cromulent_protocol::user::{OwnUser, VoiceMode};
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_autostart::ManagerExt;

use crate::bridge::PttStatus;
use crate::link::Link;
use crate::ptt::PttState;
use crate::updates::{self, UpdateOffer, Updates};
use crate::voice::{SoundStatus, VoiceLink, VoiceSnapshot};

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
        sound_devices,
        sound_settings_set,
        sound_status,
        mic_test,
        ptt_status,
        ptt_set_key,
        ptt_capture,
        set_evdev_opt_in,
        autostart,
        set_autostart,
        crate::attachments::attachment_pick,
        crate::attachments::attachment_read,
        crate::attachments::attachment_upload,
        crate::attachments::attachment_fetch,
        update_check,
        update_install,
    ]
}

/// The server list, accounts and push-to-talk settings (nothing secret).
#[tauri::command]
fn config(accounts: State<'_, Arc<Accounts>>) -> Config {
    accounts.config()
}

#[tauri::command]
fn server_remove(accounts: State<'_, Arc<Accounts>>, url: String) -> Result<Config> {
    accounts.remove_server(&url).map_err(text)
}

#[tauri::command]
async fn login(
    accounts: State<'_, Arc<Accounts>>,
    server: String,
    email: String,
    password: String,
) -> Result<OwnUser> {
    accounts.login(&server, &email, password.into()).await.map(|s| s.user).map_err(text)
}

/// Automatic login from the keyring; `None` when the user must log in.
#[tauri::command]
async fn resume(accounts: State<'_, Arc<Accounts>>, server: String) -> Result<Option<OwnUser>> {
    accounts.resume(&server).await.map(|s| s.map(|s| s.user)).map_err(text)
}

#[tauri::command]
async fn logout(accounts: State<'_, Arc<Accounts>>, link: State<'_, Link>) -> Result<()> {
    link.close().await;
    accounts.logout().await.map_err(text)
}

/// A REST call for the UI, only to the configured server: any other origin is refused
/// before anything is sent.
#[tauri::command]
async fn api(
    accounts: State<'_, Arc<Accounts>>,
    server: String,
    call: ApiCall,
) -> std::result::Result<serde_json::Value, CallFailure> {
    accounts.api_client(&server).await?.call_raw(&call).await
}

#[tauri::command]
async fn gateway_connect<R: Runtime>(
    app: AppHandle<R>,
    accounts: State<'_, Arc<Accounts>>,
    link: State<'_, Link>,
) -> Result<()> {
    let session = accounts.session().await.ok_or("not logged in")?;
    link.connect(&app, &session).await.map_err(text)
}

#[tauri::command]
async fn gateway_close(link: State<'_, Link>) -> Result<()> {
    link.close().await;
    Ok(())
}

#[tauri::command]
fn gateway_send(link: State<'_, Link>, frame: ClientFrame) {
    link.send_from_ui(frame);
}

#[tauri::command]
fn voice_state(voice: State<'_, Arc<VoiceLink>>) -> VoiceSnapshot {
    voice.snapshot()
}

#[tauri::command]
fn voice_set_volume(voice: State<'_, Arc<VoiceLink>>, user_id: cromulent_protocol::Id, volume: f32) {
    voice.set_volume(user_id, volume);
}

#[tauri::command]
fn voice_set_mode(voice: State<'_, Arc<VoiceLink>>, mode: VoiceMode) {
    voice.set_mode(mode);
}

/// The microphones and speakers the sound system offers now (asked again each time, so
/// a headset plugged in since shows up).
#[tauri::command]
async fn sound_devices() -> Result<SoundDevices> {
    tauri::async_runtime::spawn_blocking(SoundDevices::list).await.map_err(text)?.map_err(text)
}

/// Keeps the sound settings in the config file and applies them (live in a call).
#[tauri::command]
fn sound_settings_set(
    accounts: State<'_, Arc<Accounts>>,
    voice: State<'_, Arc<VoiceLink>>,
    settings: SoundSettings,
) -> Result<SoundSettings> {
    let settings = settings.clamped();
    accounts.update_config(|c| c.sound = settings.clone()).map_err(text)?;
    voice.apply_sound(&settings);
    Ok(settings)
}

#[tauri::command]
fn sound_status(voice: State<'_, Arc<VoiceLink>>) -> SoundStatus {
    voice.sound_status()
}

/// Starts or ends the mic test (hear yourself, see the level).
#[tauri::command]
async fn mic_test(voice: State<'_, Arc<VoiceLink>>, on: bool) -> Result<()> {
    voice.mic_test(on).await.map_err(text)
}

#[tauri::command]
fn ptt_status(ptt: State<'_, Arc<PttState>>) -> Option<PttStatus> {
    ptt.status()
}

#[tauri::command]
fn ptt_set_key(accounts: State<'_, Arc<Accounts>>, ptt: State<'_, Arc<PttState>>, key: String) -> Result<()> {
    accounts.update_config(|c| c.ptt_key = Some(key.clone())).map_err(text)?;
    ptt.set_key(&PttKey::new(key));
    Ok(())
}

/// The next key pressed anywhere becomes the key (`ptt://captured`); false when only
/// the window can capture.
#[tauri::command]
fn ptt_capture(ptt: State<'_, Arc<PttState>>) -> bool {
    ptt.capture_next()
}

/// Takes effect at the next start, when the backend is chosen again.
#[tauri::command]
fn set_evdev_opt_in(accounts: State<'_, Arc<Accounts>>, enabled: bool) -> Result<()> {
    accounts.update_config(|c| c.evdev_opt_in = enabled).map(|_| ()).map_err(text)
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

/// Asks the current server for a newer version of the app; `None` when there is none.
#[tauri::command]
async fn update_check<R: Runtime>(
    app: AppHandle<R>,
    accounts: State<'_, Arc<Accounts>>,
    updates: State<'_, Updates>,
) -> Result<Option<UpdateOffer>> {
    updates::check(&app, &updates, accounts.config().servers.current).await.map_err(text)
}

/// Installs the offer the user accepted and restarts into it; on failure, says why and
/// leaves this version running.
#[tauri::command]
async fn update_install<R: Runtime>(app: AppHandle<R>, updates: State<'_, Updates>) -> Result<()> {
    updates::install(&app, &updates).await.map_err(text)
}
