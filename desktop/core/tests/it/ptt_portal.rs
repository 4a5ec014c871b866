//! The GlobalShortcuts portal source against the other end of the protocol: a private
//! `dbus-daemon` (its own config, so nothing is D-Bus-activated from the system) and a
//! portal object served here with exactly the calls and signals the portal spec defines.
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cromulent_client::ptt::portal::{self, PortalListener, SHORTCUT_ID};
use cromulent_client::ptt::{Backend, PttEvent, PttKey, PttSink, PttSource};
use zbus::message::Header;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, ObjectServer};

const PORTAL_BUS: &str = "org.freedesktop.portal.Desktop";
const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
const SHORTCUTS: &str = "org.freedesktop.portal.GlobalShortcuts";
/// Liveness deadline for each awaited step, never a measurement.
const DEADLINE: Duration = Duration::from_secs(10);

/// A private bus, killed and its directory removed when dropped.
struct Bus {
    daemon: Child,
    dir: PathBuf,
    address: String,
}

impl Bus {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cromulent-ptt-portal-{name}-{}", std::process::id()));
        let _stale = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bus temp dir");
        // No <servicedir>: a default session config would start the machine's real portal.
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.display()
            ),
        )
        .expect("bus config");
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--print-address", "--nofork"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon runs (package dbus)");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().expect("piped stdout"))
            .read_line(&mut address)
            .expect("dbus-daemon prints its address");
        let address = address.trim().to_owned();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        Self { daemon, dir, address }
    }

    async fn connect(&self) -> Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .expect("bus address parses")
            .build()
            .await
            .expect("connects to the private bus")
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _already_gone = self.daemon.kill();
        let _reaped = self.daemon.wait();
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}

type Shortcuts = Vec<(String, HashMap<String, OwnedValue>)>;

/// What the served portal saw.
#[derive(Default)]
struct Seen {
    sessions: Vec<String>,
    bound: Shortcuts,
}

struct Portal(Arc<Mutex<Seen>>);

/// `/org/freedesktop/portal/desktop/<kind>/<sender>/<token>`, as the spec builds it.
fn handle(kind: &str, header: &Header<'_>, options: &HashMap<String, OwnedValue>, key: &str) -> String {
    let sender = header.sender().expect("method calls carry a sender").as_str();
    let sender = sender.trim_start_matches(':').replace('.', "_");
    let token = options.get(key).and_then(|v| String::try_from(v.clone()).ok()).expect("token option given");
    format!("{PORTAL_PATH}/{kind}/{sender}/{token}")
}

/// The Request's answer; the client subscribed before calling, as the spec asks.
async fn respond(
    conn: &Connection,
    request: &str,
    results: HashMap<&str, Value<'_>>,
) -> zbus::fdo::Result<()> {
    conn.emit_signal(None::<&str>, request, "org.freedesktop.portal.Request", "Response", &(0u32, results))
        .await
        .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
}

fn listed(shortcuts: &Shortcuts) -> Value<'static> {
    let described: Vec<(String, HashMap<String, String>)> = shortcuts
        .iter()
        .map(|(id, props)| {
            let trigger = props
                .get("preferred_trigger")
                .and_then(|v| String::try_from(v.clone()).ok())
                .unwrap_or_default();
            (id.clone(), HashMap::from([("trigger_description".to_owned(), trigger)]))
        })
        .collect();
    Value::from(described)
}

#[zbus::interface(name = "org.freedesktop.portal.GlobalShortcuts")]
impl Portal {
    async fn create_session(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let request = handle("request", &header, &options, "handle_token");
        let session = handle("session", &header, &options, "session_handle_token");
        self.0.lock().expect("seen lock").sessions.push(session.clone());
        respond(conn, &request, HashMap::from([("session_handle", Value::from(session))])).await?;
        OwnedObjectPath::try_from(request).map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }

    async fn bind_shortcuts(
        &self,
        session_handle: ObjectPath<'_>,
        shortcuts: Shortcuts,
        _parent_window: &str,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let request = handle("request", &header, &options, "handle_token");
        let known = self.0.lock().expect("seen lock").sessions.contains(&session_handle.to_string());
        if !known {
            return Err(zbus::fdo::Error::InvalidArgs("unknown session".into()));
        }
        let results = HashMap::from([("shortcuts", listed(&shortcuts))]);
        self.0.lock().expect("seen lock").bound = shortcuts;
        respond(conn, &request, results).await?;
        OwnedObjectPath::try_from(request).map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }

    async fn list_shortcuts(
        &self,
        _session_handle: ObjectPath<'_>,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let request = handle("request", &header, &options, "handle_token");
        let shortcuts = listed(&self.0.lock().expect("seen lock").bound);
        respond(conn, &request, HashMap::from([("shortcuts", shortcuts)])).await?;
        OwnedObjectPath::try_from(request).map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }

    // zbus would publish "Version"; the spec names it in lower case.
    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}

async fn emit(conn: &Connection, signal: &str, session: &str, id: &str) {
    let session = ObjectPath::try_from(session).expect("session handle is a path");
    let options: HashMap<&str, Value<'_>> = HashMap::new();
    conn.emit_signal(None::<&str>, PORTAL_PATH, SHORTCUTS, signal, &(session, id, 0u64, options))
        .await
        .expect("signal emitted");
}

#[tokio::test]
async fn portal_reports_only_our_shortcut() {
    let bus = Bus::start("main");
    let server = bus.connect().await;
    let client = bus.connect().await;
    assert!(!portal::available_on(&client).await, "nothing owns the portal name yet");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let objects: &ObjectServer = server.object_server();
    objects.at(PORTAL_PATH, Portal(Arc::clone(&seen))).await.expect("portal object served");
    server.request_name(PORTAL_BUS).await.expect("portal name owned");
    assert!(portal::available_on(&client).await, "the portal offers GlobalShortcuts");

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink: PttSink = Arc::new(move |event| {
        let _test_over = tx.send(event);
    });
    let listener = tokio::time::timeout(
        DEADLINE,
        PortalListener::start_on(client.clone(), PttKey::new("ControlLeft"), sink),
    )
    .await
    .expect("session and binding finish")
    .expect("portal source starts");
    assert_eq!(listener.backend(), Backend::Portal);
    assert!(!listener.capture_next(), "the desktop's dialog assigns keys, not us");

    let bound = std::mem::take(&mut seen.lock().expect("seen lock").bound);
    assert_eq!(bound.len(), 1, "one shortcut is bound: {:?}", bound.iter().map(|b| &b.0).collect::<Vec<_>>());
    let (id, props) = &bound[0];
    assert_eq!(id, SHORTCUT_ID);
    let prop = |name: &str| props.get(name).and_then(|v| String::try_from(v.clone()).ok());
    assert_eq!(prop("description").as_deref(), Some("Push to talk"));
    assert_eq!(prop("preferred_trigger").as_deref(), Some("CTRL"), "a lone Left Ctrl is the CTRL trigger");

    let ours = listener.session().to_string();
    assert!(seen.lock().expect("seen lock").sessions.contains(&ours), "the session the portal made");
    let theirs = format!("{PORTAL_PATH}/session/1_999/other");
    // Signals for another shortcut and for our id in another session come first: had
    // any of them leaked, it would be the first event received.
    emit(&server, "Activated", &ours, "mute-all").await;
    emit(&server, "Activated", &theirs, SHORTCUT_ID).await;
    emit(&server, "Activated", &ours, SHORTCUT_ID).await;
    emit(&server, "Activated", &ours, SHORTCUT_ID).await; // a repeat while held
    emit(&server, "Deactivated", &ours, "mute-all").await;
    emit(&server, "Deactivated", &ours, SHORTCUT_ID).await;
    emit(&server, "Activated", &ours, "mute-all").await;
    emit(&server, "Deactivated", &theirs, SHORTCUT_ID).await;
    emit(&server, "Activated", &ours, SHORTCUT_ID).await;
    emit(&server, "Deactivated", &ours, SHORTCUT_ID).await;

    let mut events = Vec::new();
    for _ in 0..4 {
        let event =
            tokio::time::timeout(DEADLINE, rx.recv()).await.expect("event arrives").expect("sink alive");
        events.push(event);
    }
    assert_eq!(events, [PttEvent::Down, PttEvent::Up, PttEvent::Down, PttEvent::Up]);

    // A dropped source reports nothing more, and lets go of the sink.
    drop(listener);
    emit(&server, "Activated", &ours, SHORTCUT_ID).await;
    let after = tokio::time::timeout(DEADLINE, rx.recv()).await.expect("the sink is released");
    assert_eq!(after, None, "a dropped source reported an event");
}

#[tokio::test]
async fn detection_says_unavailable_without_the_portal() {
    let bus = Bus::start("empty");
    let conn = bus.connect().await;
    assert!(!portal::available_on(&conn).await, "a bus without the portal has no GlobalShortcuts");
}
