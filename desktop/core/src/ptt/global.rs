//! The global listener: rdev on a thread of its own (X11's XRecord, Windows' low-level
//! hook) or, on macOS, on the main thread the caller hands over — rdev's event tap
//! crashes anywhere else there.
//!
//! rdev reports every key; the filtering happens here, in the callback, so nothing but
//! the push-to-talk key's down/up ever leaves this module.

use super::filter::SharedFilter;
use super::{Backend, PttError, PttEvent, PttKey, PttSink, PttSource};

pub struct GlobalListener {
    filter: SharedFilter,
}

/// Where the blocking listen loop runs: a new thread, or the caller's main thread.
pub type Spawner = Box<dyn FnOnce(Box<dyn FnOnce() + Send>) + Send>;

impl GlobalListener {
    /// Starts listening on a new thread (X11, Windows).
    pub fn start(key: PttKey, sink: PttSink) -> Result<Self, PttError> {
        let spawn: Spawner = Box::new(|run| {
            // The thread is detached on purpose: rdev offers no way to stop listening.
            let _detached = std::thread::Builder::new().name("ptt-global".into()).spawn(run);
        });
        Self::start_with(key, sink, spawn)
    }

    /// Starts listening wherever `spawn` runs the loop (macOS: the main thread).
    pub fn start_with(key: PttKey, sink: PttSink, spawn: Spawner) -> Result<Self, PttError> {
        let filter = SharedFilter::new(key);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let inner = filter.clone();
        spawn(Box::new(move || {
            let failed = ready_tx.clone();
            // rdev only returns from listen on failure; success is "still listening".
            let result = rdev::listen(move |event| {
                if let Some(out) = translate(&inner, &event.event_type) {
                    sink(out);
                }
            });
            if let Err(e) = result {
                let _receiver_gone = failed.send(Err(format!("{e:?}")));
            }
        }));
        // Listen fails fast (no display, no RECORD extension, no permission); a quiet
        // moment without a failure means it attached.
        match ready_rx.recv_timeout(std::time::Duration::from_millis(300)) {
            Ok(Err(reason)) => Err(PttError::Listener(reason)),
            _ => Ok(Self { filter }),
        }
    }
}

/// Turns one raw event into what the app may see: the PTT key's transitions, or the
/// captured key. Everything else is dropped here.
fn translate(filter: &SharedFilter, event: &rdev::EventType) -> Option<PttEvent> {
    let (pressed, key) = match *event {
        rdev::EventType::KeyPress(k) => (true, PttKey::from_rdev_key(k)),
        rdev::EventType::KeyRelease(k) => (false, PttKey::from_rdev_key(k)),
        rdev::EventType::ButtonPress(b) => (true, PttKey::from_rdev_button(b)),
        rdev::EventType::ButtonRelease(b) => (false, PttKey::from_rdev_button(b)),
        _ => return None,
    };
    filter.lock().on_key(key?, pressed)
}

impl PttSource for GlobalListener {
    fn backend(&self) -> Backend {
        Backend::Global
    }

    fn set_key(&self, key: PttKey) {
        self.filter.set_key(key);
    }

    fn capture_next(&self) -> bool {
        self.filter.capture_next();
        true
    }
}

impl Drop for GlobalListener {
    fn drop(&mut self) {
        self.filter.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdev::{Button, EventType, Key};

    fn state() -> SharedFilter {
        SharedFilter::new(PttKey::default())
    }

    #[test]
    fn only_the_ptt_key_passes_and_repeats_are_dropped() {
        let s = state();
        assert_eq!(
            translate(&s, &EventType::KeyPress(Key::KeyA)),
            None,
            "other keys never leave the listener"
        );
        assert_eq!(translate(&s, &EventType::KeyPress(Key::ControlLeft)), Some(PttEvent::Down));
        assert_eq!(
            translate(&s, &EventType::KeyPress(Key::ControlLeft)),
            None,
            "auto-repeat is not a new press"
        );
        assert_eq!(translate(&s, &EventType::KeyRelease(Key::KeyA)), None);
        assert_eq!(translate(&s, &EventType::KeyRelease(Key::ControlLeft)), Some(PttEvent::Up));
        assert_eq!(translate(&s, &EventType::KeyRelease(Key::ControlLeft)), None, "no up without a down");
    }

    #[test]
    fn capture_takes_the_next_press_even_a_lone_modifier() {
        let s = state();
        s.capture_next();
        assert_eq!(translate(&s, &EventType::KeyRelease(Key::KeyA)), None, "a release is not a choice");
        assert_eq!(
            translate(&s, &EventType::KeyPress(Key::ShiftRight)),
            Some(PttEvent::Captured(PttKey::new("ShiftRight")))
        );
        assert_eq!(
            translate(&s, &EventType::KeyRelease(Key::ShiftRight)),
            None,
            "the capturing press is not talk"
        );
        assert_eq!(
            translate(&s, &EventType::KeyPress(Key::ShiftRight)),
            Some(PttEvent::Down),
            "the new key works"
        );
        assert_eq!(translate(&s, &EventType::KeyPress(Key::ControlLeft)), None, "the old key does not");
    }

    #[test]
    fn mouse_movement_and_main_buttons_are_ignored() {
        let s = state();
        s.capture_next();
        assert_eq!(translate(&s, &EventType::ButtonPress(Button::Left)), None);
        assert_eq!(translate(&s, &EventType::MouseMove { x: 1.0, y: 2.0 }), None);
        assert!(s.lock().is_capturing(), "still waiting for a usable key");
    }

    #[test]
    fn a_stopped_listener_reports_nothing() {
        let s = state();
        s.stop();
        assert_eq!(translate(&s, &EventType::KeyPress(Key::ControlLeft)), None);
    }
}
