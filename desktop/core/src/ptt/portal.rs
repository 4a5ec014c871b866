//! The XDG GlobalShortcuts portal (Wayland desktops that offer it): the desktop owns
//! the key and tells us over the session D-Bus when our shortcut is pressed and
//! released, so no other key ever reaches the app.
//!
//! The conversation: `CreateSession` and `BindShortcuts` each answer with a Request
//! object whose `Response` signal carries the outcome; afterwards the portal emits
//! `Activated` / `Deactivated` for every shortcut of every session of this app, which
//! are narrowed here to our session and our one shortcut id.
//!
//! The key given at start is only a *preferred* trigger: the desktop may show a dialog
//! and the user has the last word, which is also why this source never captures keys
//! and why a changed key only takes effect with the next session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use zbus::message::Type as MessageType;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, MatchRule, MessageStream};

use super::filter::SharedFilter;
use super::{Backend, PttError, PttKey, PttSink, PttSource};

/// The id of our one shortcut; the desktop lists it under this name.
pub const SHORTCUT_ID: &str = "push-to-talk";
const DESCRIPTION: &str = "Push to talk";

const PORTAL_BUS: &str = "org.freedesktop.portal.Desktop";
const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
const SHORTCUTS: &str = "org.freedesktop.portal.GlobalShortcuts";
const REQUEST: &str = "org.freedesktop.portal.Request";
const SESSION: &str = "org.freedesktop.portal.Session";

/// How long detection waits for the portal (it may be started by D-Bus activation).
const DETECT_TIMEOUT: Duration = Duration::from_secs(3);

pub struct PortalListener {
    conn: Connection,
    session: OwnedObjectPath,
    filter: SharedFilter,
    /// The key asked for; the desktop decides the real trigger.
    preferred: Mutex<PttKey>,
    signals: tokio::task::JoinHandle<()>,
}

impl PortalListener {
    /// Starts a session with the portal on the user's session bus.
    pub async fn start(key: PttKey, sink: PttSink) -> Result<Self, PttError> {
        let conn = Connection::session().await.map_err(|e| failed("connecting to the session bus", e))?;
        Self::start_on(conn, key, sink).await
    }

    /// Starts a session with the portal reachable over `conn`. Returns once the
    /// shortcut is bound (which may wait for the user to confirm a dialog).
    pub async fn start_on(conn: Connection, key: PttKey, sink: PttSink) -> Result<Self, PttError> {
        let (handle_token, session_token) = (token(), token());
        let options = HashMap::from([
            ("handle_token", Value::from(handle_token.as_str())),
            ("session_handle_token", Value::from(session_token.as_str())),
        ]);
        let results = request(&conn, "CreateSession", &handle_token, &(options,)).await?;
        let session = session_handle(&results)?;

        // Subscribed before binding, so no press right after the dialog is missed.
        let rule = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender(PORTAL_BUS)
            .and_then(|r| r.interface(SHORTCUTS))
            .and_then(|r| r.path(PORTAL_PATH))
            .map_err(|e| failed("subscribing to shortcut signals", e))?
            .build();
        // One stream for both signals keeps their order: a release never overtakes its press.
        let mut stream = MessageStream::for_match_rule(rule, &conn, Some(64))
            .await
            .map_err(|e| failed("subscribing to shortcut signals", e))?;

        let mut shortcut: HashMap<&str, Value> = HashMap::from([("description", Value::from(DESCRIPTION))]);
        if let Some(trigger) = preferred_trigger(&key) {
            shortcut.insert("preferred_trigger", Value::from(trigger));
        }
        let shortcuts = vec![(SHORTCUT_ID, shortcut)];
        let handle_token = token();
        let options = HashMap::from([("handle_token", Value::from(handle_token.as_str()))]);
        // No parent window: the portal then centers its dialog itself.
        request(&conn, "BindShortcuts", &handle_token, &(&session, shortcuts, "", options)).await?;

        let filter = SharedFilter::new(PttKey::new(SHORTCUT_ID));
        let inner = filter.clone();
        let ours = session.clone();
        let signals = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let pressed = match message.header().member().map(|m| m.as_str()) {
                    Some("Activated") => true,
                    Some("Deactivated") => false,
                    _ => continue,
                };
                let body = message.body();
                let Ok((session, id, _timestamp, _options)) =
                    body.deserialize::<(ObjectPath<'_>, &str, u64, HashMap<&str, Value<'_>>)>()
                else {
                    continue;
                };
                if session != *ours || id != SHORTCUT_ID {
                    continue;
                }
                let event = inner.lock().on_key(PttKey::new(SHORTCUT_ID), pressed);
                if let Some(event) = event {
                    sink(event);
                }
            }
        });
        Ok(Self { conn, session, filter, preferred: Mutex::new(key), signals })
    }

    /// The session handle the portal gave us.
    pub fn session(&self) -> &ObjectPath<'_> {
        &self.session
    }
}

impl PttSource for PortalListener {
    fn backend(&self) -> Backend {
        Backend::Portal
    }

    /// The portal lets only the user change a bound shortcut (in the desktop's settings),
    /// so the key is recorded as the preferred trigger for the next session.
    fn set_key(&self, key: PttKey) {
        tracing::info!(%key, "push-to-talk key changed; the desktop's shortcut settings decide the portal's trigger");
        *self.preferred.lock().expect("preferred key lock is never poisoned") = key;
    }

    fn capture_next(&self) -> bool {
        false
    }
}

impl Drop for PortalListener {
    fn drop(&mut self) {
        self.filter.stop();
        self.signals.abort();
        // Closing the session unbinds the shortcut; best effort, the portal also closes
        // it when our connection goes away.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let conn = self.conn.clone();
            let session = self.session.clone();
            runtime.spawn(async move {
                let _closed = conn.call_method(Some(PORTAL_BUS), &session, Some(SESSION), "Close", &()).await;
            });
        }
    }
}

/// Whether the portal on the user's session bus offers GlobalShortcuts. Blocks up to a
/// few seconds (the portal may be started on demand); false on any failure.
pub fn available() -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("ptt-portal-detect".into()).spawn(move || {
        let found = zbus::block_on(async {
            match Connection::session().await {
                Ok(conn) => available_on(&conn).await,
                Err(_) => false,
            }
        });
        let _caller_gone = tx.send(found);
    });
    spawned.is_ok() && rx.recv_timeout(DETECT_TIMEOUT).unwrap_or(false)
}

/// Whether the portal reachable over `conn` offers GlobalShortcuts: its `version`
/// property reads as 1 or more.
pub async fn available_on(conn: &Connection) -> bool {
    let reply = conn
        .call_method(
            Some(PORTAL_BUS),
            PORTAL_PATH,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(SHORTCUTS, "version"),
        )
        .await;
    let Ok(reply) = reply else {
        return false;
    };
    reply.body().deserialize::<OwnedValue>().ok().and_then(|v| u32::try_from(v).ok()).is_some_and(|v| v >= 1)
}

/// Calls a portal method whose answer comes as a Request's `Response` signal, and
/// returns that answer's results.
/// `handle_token` is the token the body's options carry.
async fn request<B>(
    conn: &Connection,
    method: &'static str,
    handle_token: &str,
    body: &B,
) -> Result<HashMap<String, OwnedValue>, PttError>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    let unique = conn.unique_name().ok_or_else(|| PttError::Portal {
        step: method,
        reason: "the bus connection has no unique name".into(),
    })?;
    let expected = request_path(unique.as_str(), handle_token);
    // Subscribed before calling: the portal may answer before the call returns.
    let mut responses = responses(conn, &expected, method).await?;
    let reply = conn
        .call_method(Some(PORTAL_BUS), PORTAL_PATH, Some(SHORTCUTS), method, body)
        .await
        .map_err(|e| failed(method, e))?;
    let handle: OwnedObjectPath = reply.body().deserialize().map_err(|e| failed(method, e))?;
    if handle.as_str() != expected {
        // Portals before 0.9 chose their own request path; the answer follows user input,
        // so subscribing now is in time.
        responses = self::responses(conn, &handle, method).await?;
    }
    let message = responses
        .next()
        .await
        .ok_or_else(|| PttError::Portal { step: method, reason: "the bus connection closed".into() })?
        .map_err(|e| failed(method, e))?;
    let (code, results): (u32, HashMap<String, OwnedValue>) =
        message.body().deserialize().map_err(|e| failed(method, e))?;
    match code {
        0 => Ok(results),
        1 => Err(PttError::Portal { step: method, reason: "the user cancelled".into() }),
        other => {
            Err(PttError::Portal { step: method, reason: format!("the portal ended the request ({other})") })
        }
    }
}

async fn responses(conn: &Connection, path: &str, method: &'static str) -> Result<MessageStream, PttError> {
    let rule = MatchRule::builder()
        .msg_type(MessageType::Signal)
        .sender(PORTAL_BUS)
        .and_then(|r| r.interface(REQUEST))
        .and_then(|r| r.member("Response"))
        .and_then(|r| r.path(path.to_owned()))
        .map_err(|e| failed(method, e))?
        .build();
    MessageStream::for_match_rule(rule, conn, Some(4)).await.map_err(|e| failed(method, e))
}

/// Where the portal puts a request's object: the caller's unique name without the
/// colon, dots as underscores, then the token.
fn request_path(unique_name: &str, token: &str) -> String {
    let sender = unique_name.trim_start_matches(':').replace('.', "_");
    format!("{PORTAL_PATH}/request/{sender}/{token}")
}

/// A fresh token, valid as an object path element.
fn token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("cromulent{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// CreateSession's result: a string in the spec, an object path in some portals.
fn session_handle(results: &HashMap<String, OwnedValue>) -> Result<OwnedObjectPath, PttError> {
    let missing =
        || PttError::Portal { step: "CreateSession", reason: "no session_handle in the response".into() };
    let path = match results.get("session_handle").map(|v| &**v) {
        Some(Value::Str(s)) => s.as_str().to_owned(),
        Some(Value::ObjectPath(p)) => p.as_str().to_owned(),
        _ => return Err(missing()),
    };
    OwnedObjectPath::try_from(path).map_err(|_| missing())
}

fn failed(step: &'static str, e: impl std::fmt::Display) -> PttError {
    PttError::Portal { step, reason: e.to_string() }
}

/// The key as a trigger of the shortcuts spec: modifiers `CTRL`, `ALT`, `SHIFT`, `LOGO`
/// and xkbcommon keysym names joined by `+`. A lone modifier is its modifier name.
/// `None` for what the spec cannot express (mouse buttons): the user picks in the dialog.
pub fn preferred_trigger(key: &PttKey) -> Option<String> {
    let parts = key.as_str().split('+').map(keysym).collect::<Option<Vec<_>>>()?;
    Some(parts.join("+"))
}

fn keysym(code: &str) -> Option<String> {
    let fixed = match code {
        "ControlLeft" | "ControlRight" | "Control" => "CTRL",
        "AltLeft" | "AltRight" | "Alt" => "ALT",
        "ShiftLeft" | "ShiftRight" | "Shift" => "SHIFT",
        "MetaLeft" | "MetaRight" | "Meta" => "LOGO",
        "Space" => "space",
        "Enter" => "Return",
        "NumpadEnter" => "KP_Enter",
        "Escape" => "Escape",
        "Tab" => "Tab",
        "Backspace" => "BackSpace",
        "Delete" => "Delete",
        "Insert" => "Insert",
        "Home" => "Home",
        "End" => "End",
        "PageUp" => "Page_Up",
        "PageDown" => "Page_Down",
        "ArrowUp" => "Up",
        "ArrowDown" => "Down",
        "ArrowLeft" => "Left",
        "ArrowRight" => "Right",
        "CapsLock" => "Caps_Lock",
        "ScrollLock" => "Scroll_Lock",
        "NumLock" => "Num_Lock",
        "Pause" => "Pause",
        "PrintScreen" => "Print",
        "Backquote" => "grave",
        "Minus" => "minus",
        "Equal" => "equal",
        "BracketLeft" => "bracketleft",
        "BracketRight" => "bracketright",
        "Semicolon" => "semicolon",
        "Quote" => "apostrophe",
        "Backslash" | "IntlBackslash" => "backslash",
        "Comma" => "comma",
        "Period" => "period",
        "Slash" => "slash",
        "NumpadAdd" => "KP_Add",
        "NumpadSubtract" => "KP_Subtract",
        "NumpadMultiply" => "KP_Multiply",
        "NumpadDivide" => "KP_Divide",
        _ => {
            return if let Some(letter) = code.strip_prefix("Key").filter(|l| l.len() == 1) {
                Some(letter.to_ascii_lowercase())
            } else if let Some(digit) = code.strip_prefix("Digit").filter(|d| d.len() == 1) {
                Some(digit.to_owned())
            } else if let Some(digit) = code.strip_prefix("Numpad").filter(|d| d.len() == 1) {
                Some(format!("KP_{digit}"))
            } else if code.len() <= 3 && code.starts_with('F') && code[1..].parse::<u8>().is_ok() {
                Some(code.to_owned())
            } else {
                None
            };
        }
    };
    Some(fixed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_follow_the_shortcuts_spec() {
        let trigger = |code: &str| preferred_trigger(&PttKey::new(code));
        assert_eq!(trigger("ControlLeft").as_deref(), Some("CTRL"), "a lone modifier is its modifier name");
        assert_eq!(trigger("KeyV").as_deref(), Some("v"), "keysyms of letters are lower case");
        assert_eq!(trigger("F8").as_deref(), Some("F8"));
        assert_eq!(trigger("Digit5").as_deref(), Some("5"));
        assert_eq!(trigger("Backquote").as_deref(), Some("grave"));
        assert_eq!(trigger("ControlLeft+KeyV").as_deref(), Some("CTRL+v"));
        assert_eq!(trigger("MouseBack"), None, "the spec has no mouse buttons: the user picks");
    }

    #[test]
    fn request_paths_follow_the_sender() {
        assert_eq!(request_path(":1.42", "t1"), "/org/freedesktop/portal/desktop/request/1_42/t1");
    }
}
