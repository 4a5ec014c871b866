//! The evdev backend for Wayland desktops without a GlobalShortcuts portal: reads the
//! kernel's input devices (`/dev/input/event*`, readable by the `input` group) on one
//! thread per device. Opt-in only, because it could see every keystroke: the filtering
//! happens right here, per record, and nothing but the push-to-talk key's down/up (or,
//! while capturing, the one key pressed) ever leaves this module.
//!
//! Each record is a `struct input_event`: a `timeval`, then `u16 type`, `u16 code`,
//! `i32 value` in native byte order; only `EV_KEY` records matter (value 1 down, 0 up,
//! 2 auto-repeat). Mouse side buttons are keys too (`BTN_SIDE`, `BTN_EXTRA`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::filter::SharedFilter;
use super::{Backend, PttError, PttEvent, PttKey, PttSink, PttSource};

const EV_KEY: u16 = 1;
/// `timeval` is two longs: 16 bytes on 64-bit Linux, 8 on 32-bit.
const TIMEVAL: usize = 2 * std::mem::size_of::<std::ffi::c_long>();
const RECORD: usize = TIMEVAL + 8;

/// Linux key codes (`linux/input-event-codes.h`) and their `KeyboardEvent.code` names.
const KEYS: &[(u16, &str)] = &[
    (1, "Escape"),
    (2, "Digit1"),
    (3, "Digit2"),
    (4, "Digit3"),
    (5, "Digit4"),
    (6, "Digit5"),
    (7, "Digit6"),
    (8, "Digit7"),
    (9, "Digit8"),
    (10, "Digit9"),
    (11, "Digit0"),
    (12, "Minus"),
    (13, "Equal"),
    (14, "Backspace"),
    (15, "Tab"),
    (16, "KeyQ"),
    (17, "KeyW"),
    (18, "KeyE"),
    (19, "KeyR"),
    (20, "KeyT"),
    (21, "KeyY"),
    (22, "KeyU"),
    (23, "KeyI"),
    (24, "KeyO"),
    (25, "KeyP"),
    (26, "BracketLeft"),
    (27, "BracketRight"),
    (28, "Enter"),
    (29, "ControlLeft"),
    (30, "KeyA"),
    (31, "KeyS"),
    (32, "KeyD"),
    (33, "KeyF"),
    (34, "KeyG"),
    (35, "KeyH"),
    (36, "KeyJ"),
    (37, "KeyK"),
    (38, "KeyL"),
    (39, "Semicolon"),
    (40, "Quote"),
    (41, "Backquote"),
    (42, "ShiftLeft"),
    (43, "Backslash"),
    (44, "KeyZ"),
    (45, "KeyX"),
    (46, "KeyC"),
    (47, "KeyV"),
    (48, "KeyB"),
    (49, "KeyN"),
    (50, "KeyM"),
    (51, "Comma"),
    (52, "Period"),
    (53, "Slash"),
    (54, "ShiftRight"),
    (55, "NumpadMultiply"),
    (56, "AltLeft"),
    (57, "Space"),
    (58, "CapsLock"),
    (59, "F1"),
    (60, "F2"),
    (61, "F3"),
    (62, "F4"),
    (63, "F5"),
    (64, "F6"),
    (65, "F7"),
    (66, "F8"),
    (67, "F9"),
    (68, "F10"),
    (69, "NumLock"),
    (70, "ScrollLock"),
    (71, "Numpad7"),
    (72, "Numpad8"),
    (73, "Numpad9"),
    (74, "NumpadSubtract"),
    (75, "Numpad4"),
    (76, "Numpad5"),
    (77, "Numpad6"),
    (78, "NumpadAdd"),
    (79, "Numpad1"),
    (80, "Numpad2"),
    (81, "Numpad3"),
    (82, "Numpad0"),
    (83, "NumpadDecimal"),
    (86, "IntlBackslash"),
    (87, "F11"),
    (88, "F12"),
    (96, "NumpadEnter"),
    (97, "ControlRight"),
    (98, "NumpadDivide"),
    (99, "PrintScreen"),
    (100, "AltRight"),
    (102, "Home"),
    (103, "ArrowUp"),
    (104, "PageUp"),
    (105, "ArrowLeft"),
    (106, "ArrowRight"),
    (107, "End"),
    (108, "ArrowDown"),
    (109, "PageDown"),
    (110, "Insert"),
    (111, "Delete"),
    (119, "Pause"),
    (125, "MetaLeft"),
    (126, "MetaRight"),
    (0x113, "MouseBack"),
    (0x114, "MouseForward"),
];

fn key_of(code: u16) -> Option<PttKey> {
    KEYS.iter().find(|(c, _)| *c == code).map(|(_, name)| PttKey::new(*name))
}

/// One key record: code and value (1 down, 0 up, 2 repeat). Other records: `None`.
fn key_record(record: &[u8]) -> Option<(u16, i32)> {
    let field = |at: usize| record.get(TIMEVAL + at..TIMEVAL + at + 2);
    let kind = u16::from_ne_bytes(field(0)?.try_into().ok()?);
    let code = u16::from_ne_bytes(field(2)?.try_into().ok()?);
    let value = i32::from_ne_bytes(record.get(TIMEVAL + 4..TIMEVAL + 8)?.try_into().ok()?);
    (kind == EV_KEY).then_some((code, value))
}

/// What one key record means for push-to-talk; everything else is dropped here.
fn translate(filter: &SharedFilter, code: u16, value: i32) -> Option<PttEvent> {
    // 2 is the kernel's auto-repeat while a key is held.
    if value == 2 {
        return None;
    }
    filter.lock().on_key(key_of(code)?, value == 1)
}

pub struct EvdevListener {
    filter: SharedFilter,
}

impl EvdevListener {
    /// Reads every readable `/dev/input/event*`; fails when there is none.
    pub fn start(key: PttKey, sink: PttSink) -> Result<Self, PttError> {
        let devices: Vec<PathBuf> = std::fs::read_dir("/dev/input")
            .map_err(|e| PttError::Listener(format!("/dev/input: {e}")))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("event")))
            .collect();
        Self::start_on(&devices, key, sink)
    }

    /// Reads the given device files (the kernel's, or any file of input records).
    pub fn start_on(devices: &[PathBuf], key: PttKey, sink: PttSink) -> Result<Self, PttError> {
        let filter = SharedFilter::new(key);
        let mut opened = 0;
        for path in devices {
            let Ok(file) = std::fs::File::open(path) else { continue };
            opened += 1;
            let (filter, sink, name) = (filter.clone(), Arc::clone(&sink), thread_name(path));
            let spawned =
                std::thread::Builder::new().name(name).spawn(move || read_device(file, &filter, &sink));
            if spawned.is_err() {
                opened -= 1;
            }
        }
        if opened == 0 {
            return Err(PttError::Listener(
                "no readable input device (is this user in the `input` group?)".into(),
            ));
        }
        Ok(Self { filter })
    }
}

fn thread_name(path: &Path) -> String {
    format!("ptt-{}", path.file_name().map_or_else(|| "evdev".into(), |n| n.to_string_lossy().into_owned()))
}

/// Reads records until the device goes away (unplugged) or the listener is dropped.
fn read_device(mut file: std::fs::File, filter: &SharedFilter, sink: &PttSink) {
    let mut record = [0u8; RECORD];
    while file.read_exact(&mut record).is_ok() {
        if !filter.is_active() {
            return;
        }
        if let Some(event) = key_record(&record).and_then(|(code, value)| translate(filter, code, value)) {
            sink(event);
        }
    }
}

impl PttSource for EvdevListener {
    fn backend(&self) -> Backend {
        Backend::Evdev
    }

    fn set_key(&self, key: PttKey) {
        self.filter.set_key(key);
    }

    fn capture_next(&self) -> bool {
        self.filter.capture_next();
        true
    }
}

impl Drop for EvdevListener {
    fn drop(&mut self) {
        self.filter.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, code: u16, value: i32) -> Vec<u8> {
        let mut r = vec![0u8; TIMEVAL];
        r.extend_from_slice(&kind.to_ne_bytes());
        r.extend_from_slice(&code.to_ne_bytes());
        r.extend_from_slice(&value.to_ne_bytes());
        r
    }

    #[test]
    fn names_match_the_web_codes_of_the_other_backends() {
        assert_eq!(key_of(29), Some(PttKey::default()), "KEY_LEFTCTRL is the default key");
        assert_eq!(key_of(0x113), Some(PttKey::new("MouseBack")));
        assert_eq!(key_of(0x110), None, "the left mouse button is never push-to-talk");
    }

    #[test]
    fn only_key_records_are_read() {
        assert_eq!(key_record(&record(EV_KEY, 29, 1)), Some((29, 1)));
        assert_eq!(key_record(&record(2, 0, 5)), None, "relative motion is not a key");
        assert_eq!(key_record(&record(EV_KEY, 29, 1)[..RECORD - 1]), None, "a short record is nothing");
    }

    #[tokio::test]
    async fn a_device_stream_yields_only_the_ptt_key_transitions() {
        // A file of input records read by the same thread code as a kernel device.
        let path = std::env::temp_dir().join(format!("cromulent-evdev-{}", std::process::id()));
        let mut bytes = Vec::new();
        for (code, value) in [(30, 1), (30, 0), (29, 1), (29, 2), (29, 2), (48, 1), (48, 0), (29, 0)] {
            bytes.extend(record(EV_KEY, code, value));
            bytes.extend(record(0, 0, 0)); // EV_SYN between events, as the kernel sends
        }
        std::fs::write(&path, bytes).expect("temp dir is writable");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let sink: PttSink = Arc::new(move |e| {
            let _ = tx.send(e);
        });
        let listener = EvdevListener::start_on(std::slice::from_ref(&path), PttKey::default(), sink)
            .expect("a readable file starts");
        let mut seen = Vec::new();
        // The reader thread ends at the end of the file and drops its sink: the channel closes.
        while let Some(e) = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("the reader finishes a small file quickly")
        {
            seen.push(e);
        }
        drop(listener);
        std::fs::remove_file(&path).expect("cleanup");
        assert_eq!(seen, vec![PttEvent::Down, PttEvent::Up], "A, B and repeats never leave the module");
    }

    #[test]
    fn capture_takes_the_next_press() {
        let s = SharedFilter::new(PttKey::default());
        s.capture_next();
        assert_eq!(translate(&s, 0x114, 1), Some(PttEvent::Captured(PttKey::new("MouseForward"))));
        assert_eq!(translate(&s, 0x114, 0), None, "the capturing press does not talk");
        assert_eq!(translate(&s, 0x114, 1), Some(PttEvent::Down));
    }

    #[test]
    fn no_devices_is_a_clear_refusal() {
        let sink: PttSink = Arc::new(|_| {});
        let err = EvdevListener::start_on(&[PathBuf::from("/nonexistent/event0")], PttKey::default(), sink);
        assert!(matches!(err, Err(PttError::Listener(reason)) if reason.contains("input")));
    }
}
