//! The push-to-talk key, named like the web's `KeyboardEvent.code` ("ControlLeft",
//! "KeyV", "F8") so the window's in-focus handling and every global backend agree on
//! one name; mouse side buttons are "MouseBack" and "MouseForward".

use std::fmt;

use serde::{Deserialize, Serialize};

/// A key or mouse button, by its `KeyboardEvent.code`-style name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
#[serde(transparent)]
pub struct PttKey(String);

/// Left Ctrl: a lone modifier rarely typed on its own, reachable without looking.
pub const DEFAULT_KEY: &str = "ControlLeft";

impl PttKey {
    pub fn new(code: impl Into<String>) -> Self {
        Self(code.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name for an rdev key; `None` for keys rdev cannot tell apart.
    pub fn from_rdev_key(key: rdev::Key) -> Option<Self> {
        rdev_key_code(key).map(Self::new)
    }

    /// The name for an rdev mouse button; only side buttons qualify, because the main
    /// buttons are needed for everything else.
    pub fn from_rdev_button(button: rdev::Button) -> Option<Self> {
        match button {
            // X11 numbers the side buttons 8 and 9; Windows reports XBUTTON1 and XBUTTON2.
            rdev::Button::Unknown(8) if cfg!(target_os = "linux") => Some(Self::new("MouseBack")),
            rdev::Button::Unknown(9) if cfg!(target_os = "linux") => Some(Self::new("MouseForward")),
            rdev::Button::Unknown(1) if cfg!(windows) => Some(Self::new("MouseBack")),
            rdev::Button::Unknown(2) if cfg!(windows) => Some(Self::new("MouseForward")),
            _ => None,
        }
    }
}

impl Default for PttKey {
    fn default() -> Self {
        Self::new(DEFAULT_KEY)
    }
}

impl fmt::Display for PttKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn rdev_key_code(key: rdev::Key) -> Option<&'static str> {
    use rdev::Key::*;
    Some(match key {
        Alt => "AltLeft",
        AltGr => "AltRight",
        Backspace => "Backspace",
        CapsLock => "CapsLock",
        ControlLeft => "ControlLeft",
        ControlRight => "ControlRight",
        Delete => "Delete",
        DownArrow => "ArrowDown",
        End => "End",
        Escape => "Escape",
        F1 => "F1",
        F2 => "F2",
        F3 => "F3",
        F4 => "F4",
        F5 => "F5",
        F6 => "F6",
        F7 => "F7",
        F8 => "F8",
        F9 => "F9",
        F10 => "F10",
        F11 => "F11",
        F12 => "F12",
        Home => "Home",
        LeftArrow => "ArrowLeft",
        MetaLeft => "MetaLeft",
        MetaRight => "MetaRight",
        PageDown => "PageDown",
        PageUp => "PageUp",
        Return => "Enter",
        RightArrow => "ArrowRight",
        ShiftLeft => "ShiftLeft",
        ShiftRight => "ShiftRight",
        Space => "Space",
        Tab => "Tab",
        UpArrow => "ArrowUp",
        PrintScreen => "PrintScreen",
        ScrollLock => "ScrollLock",
        Pause => "Pause",
        NumLock => "NumLock",
        BackQuote => "Backquote",
        Num1 => "Digit1",
        Num2 => "Digit2",
        Num3 => "Digit3",
        Num4 => "Digit4",
        Num5 => "Digit5",
        Num6 => "Digit6",
        Num7 => "Digit7",
        Num8 => "Digit8",
        Num9 => "Digit9",
        Num0 => "Digit0",
        Minus => "Minus",
        Equal => "Equal",
        KeyQ => "KeyQ",
        KeyW => "KeyW",
        KeyE => "KeyE",
        KeyR => "KeyR",
        KeyT => "KeyT",
        KeyY => "KeyY",
        KeyU => "KeyU",
        KeyI => "KeyI",
        KeyO => "KeyO",
        KeyP => "KeyP",
        LeftBracket => "BracketLeft",
        RightBracket => "BracketRight",
        KeyA => "KeyA",
        KeyS => "KeyS",
        KeyD => "KeyD",
        KeyF => "KeyF",
        KeyG => "KeyG",
        KeyH => "KeyH",
        KeyJ => "KeyJ",
        KeyK => "KeyK",
        KeyL => "KeyL",
        SemiColon => "Semicolon",
        Quote => "Quote",
        BackSlash => "Backslash",
        IntlBackslash => "IntlBackslash",
        KeyZ => "KeyZ",
        KeyX => "KeyX",
        KeyC => "KeyC",
        KeyV => "KeyV",
        KeyB => "KeyB",
        KeyN => "KeyN",
        KeyM => "KeyM",
        Comma => "Comma",
        Dot => "Period",
        Slash => "Slash",
        Insert => "Insert",
        KpReturn => "NumpadEnter",
        KpMinus => "NumpadSubtract",
        KpPlus => "NumpadAdd",
        KpMultiply => "NumpadMultiply",
        KpDivide => "NumpadDivide",
        Kp0 => "Numpad0",
        Kp1 => "Numpad1",
        Kp2 => "Numpad2",
        Kp3 => "Numpad3",
        Kp4 => "Numpad4",
        Kp5 => "Numpad5",
        Kp6 => "Numpad6",
        Kp7 => "Numpad7",
        Kp8 => "Numpad8",
        Kp9 => "Numpad9",
        KpDelete => "NumpadDecimal",
        Function => "Fn",
        Unknown(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_left_ctrl_under_its_web_name() {
        // The UI compares `KeyboardEvent.code` with this name for in-window handling.
        assert_eq!(PttKey::default().as_str(), "ControlLeft");
    }

    #[test]
    fn rdev_names_match_the_web_codes() {
        // Names the window's key events use must come out of the global listener too.
        assert_eq!(PttKey::from_rdev_key(rdev::Key::ControlLeft), Some(PttKey::new("ControlLeft")));
        assert_eq!(PttKey::from_rdev_key(rdev::Key::Num1), Some(PttKey::new("Digit1")));
        assert_eq!(PttKey::from_rdev_key(rdev::Key::Alt), Some(PttKey::new("AltLeft")));
        assert_eq!(PttKey::from_rdev_key(rdev::Key::Unknown(999)), None);
    }

    #[test]
    fn main_mouse_buttons_never_become_the_key() {
        // A left-click push-to-talk would make the app unusable.
        assert_eq!(PttKey::from_rdev_button(rdev::Button::Left), None);
        assert_eq!(PttKey::from_rdev_button(rdev::Button::Right), None);
    }

    #[test]
    fn serializes_as_a_plain_string() {
        let json = serde_json::to_string(&PttKey::new("F8")).expect("a string serializes");
        assert_eq!(json, "\"F8\"", "settings files and the UI exchange the bare name");
    }
}
