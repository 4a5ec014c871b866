//! Which push-to-talk backend to run, decided from facts about the machine by a pure
//! function, so every case is tested without the machine.

use serde::Serialize;

/// The backends, in the order they are preferred where several could work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/", rename = "PttBackend"))]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// rdev's global listener: XRecord on X11, a low-level hook on Windows, an event tap
    /// on macOS.
    Global,
    /// The XDG GlobalShortcuts portal (Wayland desktops that offer it).
    Portal,
    /// Reading `/dev/input` directly (Wayland, opt-in, `input` group).
    Evdev,
    /// `cromulent ptt down|up` over a local socket, bound to a key in the compositor.
    Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Windows,
    MacOs,
    Other,
}

/// The facts the choice depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub os: Os,
    /// `XDG_SESSION_TYPE` ("x11", "wayland", "tty"), when set.
    pub session_type: Option<String>,
    /// `WAYLAND_DISPLAY` is set.
    pub wayland_display: bool,
    /// `DISPLAY` is set (an X server, or Xwayland next to a Wayland compositor).
    pub x_display: bool,
    /// The desktop's portal offers GlobalShortcuts *and* this build can use it.
    pub portal_available: bool,
    /// This user may read `/dev/input/event*` (in practice: in the `input` group).
    pub input_readable: bool,
    /// The user turned on the evdev backend in settings.
    pub evdev_opt_in: bool,
}

/// The pick and the sentence settings show for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub backend: Backend,
    pub reason: String,
}

impl Choice {
    fn new(backend: Backend, reason: impl Into<String>) -> Self {
        Self { backend, reason: reason.into() }
    }
}

/// The desktop session as the environment variables describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    X11,
    Wayland,
    Neither,
}

fn session(env: &Environment) -> Session {
    match env.session_type.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("wayland") => Session::Wayland,
        Some("x11") => Session::X11,
        // Unset or "tty" (e.g. started from a terminal inside a nested session): the
        // display variables decide. WAYLAND_DISPLAY wins over DISPLAY, because a DISPLAY
        // next to it is Xwayland, which only sees keys typed into X clients.
        _ if env.wayland_display => Session::Wayland,
        _ if env.x_display => Session::X11,
        _ => Session::Neither,
    }
}

/// Picks the backend. The window's own key handling runs in every case on top.
pub fn choose(env: &Environment) -> Choice {
    match env.os {
        Os::Windows => {
            Choice::new(Backend::Global, "Windows: a low-level keyboard hook sees keys in every application.")
        }
        Os::MacOs => Choice::new(
            Backend::Global,
            "macOS: an event tap on the main thread; it needs the Input Monitoring permission \
             (System Settings → Privacy & Security → Input Monitoring).",
        ),
        Os::Other => {
            Choice::new(Backend::Command, "Unknown system: bind `cromulent ptt down` / `up` to a key.")
        }
        Os::Linux => match session(env) {
            Session::X11 => {
                Choice::new(Backend::Global, "X11: the XRecord extension sees keys in every application.")
            }
            Session::Wayland => wayland(env),
            Session::Neither => Choice::new(
                Backend::Command,
                "No graphical session found: bind `cromulent ptt down` / `up` to a key.",
            ),
        },
    }
}

fn wayland(env: &Environment) -> Choice {
    if env.portal_available {
        return Choice::new(
            Backend::Portal,
            "Wayland: the desktop's GlobalShortcuts portal delivers the key.",
        );
    }
    match (env.evdev_opt_in, env.input_readable) {
        (true, true) => Choice::new(
            Backend::Evdev,
            "Wayland without a GlobalShortcuts portal: reading the keyboard devices (you opted in); \
             only the push-to-talk key is used, nothing else leaves the app.",
        ),
        (true, false) => Choice::new(
            Backend::Command,
            "Wayland without a GlobalShortcuts portal, and the keyboard devices are not readable \
             (join the `input` group and log in again); meanwhile bind `cromulent ptt down` / `up` \
             to a key in your compositor.",
        ),
        (false, _) => Choice::new(
            Backend::Command,
            "Wayland without a GlobalShortcuts portal: bind `cromulent ptt down` / `up` to a key in \
             your compositor (or opt in to reading keyboard devices).",
        ),
    }
}

impl Environment {
    /// Reads the facts from this process. On a Linux Wayland session this asks the
    /// session bus whether the portal offers GlobalShortcuts (up to a few seconds).
    pub fn detect(evdev_opt_in: bool) -> Self {
        let os = if cfg!(target_os = "linux") {
            Os::Linux
        } else if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Other
        };
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let mut env = Self {
            os,
            session_type: std::env::var("XDG_SESSION_TYPE").ok().filter(|s| !s.is_empty()),
            wayland_display: set("WAYLAND_DISPLAY"),
            x_display: set("DISPLAY"),
            portal_available: false,
            input_readable: input_devices_readable(),
            evdev_opt_in,
        };
        // Only Wayland consults the portal; elsewhere the question would cost a D-Bus
        // round trip (or a portal start) for nothing.
        env.portal_available = session(&env) == Session::Wayland && portal_available();
        env
    }
}

#[cfg(target_os = "linux")]
fn portal_available() -> bool {
    super::portal::available()
}

#[cfg(not(target_os = "linux"))]
fn portal_available() -> bool {
    false
}

/// True when at least one `/dev/input/event*` opens for reading.
fn input_devices_readable() -> bool {
    let Ok(entries) = std::fs::read_dir("/dev/input") else {
        return false;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("event"))
        .any(|e| std::fs::File::open(e.path()).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux() -> Environment {
        Environment {
            os: Os::Linux,
            session_type: None,
            wayland_display: false,
            x_display: false,
            portal_available: false,
            input_readable: false,
            evdev_opt_in: false,
        }
    }

    fn wayland() -> Environment {
        Environment {
            session_type: Some("wayland".into()),
            wayland_display: true,
            x_display: true,
            ..linux()
        }
    }

    #[test]
    fn x11_session_uses_the_global_listener() {
        let env = Environment { session_type: Some("x11".into()), x_display: true, ..linux() };
        assert_eq!(choose(&env).backend, Backend::Global, "XRecord sees every key on X11");
    }

    #[test]
    fn display_alone_means_x11() {
        // Xvfb, ssh -X, or a session manager that sets no XDG_SESSION_TYPE.
        let env = Environment { x_display: true, ..linux() };
        assert_eq!(choose(&env).backend, Backend::Global);
    }

    #[test]
    fn wayland_with_xwayland_does_not_use_rdev() {
        // DISPLAY next to WAYLAND_DISPLAY is Xwayland: rdev would only see X clients' keys.
        let env = Environment { session_type: None, ..wayland() };
        assert_ne!(choose(&env).backend, Backend::Global);
    }

    #[test]
    fn session_type_overrides_display_variables() {
        let env = Environment { session_type: Some("x11".into()), ..wayland() };
        assert_eq!(choose(&env).backend, Backend::Global, "the session manager knows best");
    }

    #[test]
    fn wayland_prefers_the_portal() {
        let env =
            Environment { portal_available: true, evdev_opt_in: true, input_readable: true, ..wayland() };
        assert_eq!(choose(&env).backend, Backend::Portal, "the portal needs no extra rights");
    }

    #[test]
    fn wayland_without_portal_uses_evdev_only_when_opted_in_and_readable() {
        let opted = Environment { evdev_opt_in: true, input_readable: true, ..wayland() };
        assert_eq!(choose(&opted).backend, Backend::Evdev);

        let not_opted = Environment { input_readable: true, ..wayland() };
        assert_eq!(choose(&not_opted).backend, Backend::Command, "reading devices is never silent");

        let no_rights = Environment { evdev_opt_in: true, ..wayland() };
        let choice = choose(&no_rights);
        assert_eq!(choice.backend, Backend::Command);
        assert!(choice.reason.contains("input"), "the reason tells how to get the rights: {}", choice.reason);
    }

    #[test]
    fn no_session_falls_back_to_the_command() {
        let env = Environment { session_type: Some("tty".into()), ..linux() };
        assert_eq!(choose(&env).backend, Backend::Command);
    }

    #[test]
    fn windows_and_macos_use_the_global_listener() {
        let win = Environment { os: Os::Windows, ..linux() };
        assert_eq!(choose(&win).backend, Backend::Global);
        let mac = choose(&Environment { os: Os::MacOs, ..linux() });
        assert_eq!(mac.backend, Backend::Global);
        assert!(mac.reason.contains("Input Monitoring"), "macOS users must be told about the permission");
    }

    #[test]
    fn every_choice_explains_itself() {
        for env in [linux(), wayland(), Environment { x_display: true, ..linux() }] {
            assert!(!choose(&env).reason.is_empty(), "settings show the reason for {env:?}");
        }
    }
}
