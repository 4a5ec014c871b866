//! The rule every key listener applies to raw key events, so that nothing but the
//! push-to-talk key's transitions (or, while capturing, the one key pressed) ever leaves
//! a listener. Listeners only translate their raw events into "this key went down/up".

use std::sync::{Arc, Mutex, MutexGuard};

use super::{PttEvent, PttKey};

/// A listener's state: the key, whether it is held, whether the next press is captured.
#[derive(Debug)]
pub(crate) struct KeyFilter {
    key: PttKey,
    capturing: bool,
    held: bool,
    /// False once the listener's handle is dropped: reading threads that cannot be
    /// stopped (rdev's listen never returns) live on but report nothing more.
    active: bool,
}

impl KeyFilter {
    /// What a press or release of `key` means for push-to-talk, if anything.
    pub(crate) fn on_key(&mut self, key: PttKey, pressed: bool) -> Option<PttEvent> {
        if !self.active {
            return None;
        }
        if self.capturing {
            if !pressed {
                return None;
            }
            self.capturing = false;
            self.held = false;
            self.key = key.clone();
            return Some(PttEvent::Captured(key));
        }
        if key != self.key {
            return None;
        }
        // Auto-repeat sends more presses while held; only the first one counts.
        match (pressed, self.held) {
            (true, false) => {
                self.held = true;
                Some(PttEvent::Down)
            }
            (false, true) => {
                self.held = false;
                Some(PttEvent::Up)
            }
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn is_capturing(&self) -> bool {
        self.capturing
    }
}

/// The filter shared by a listener's reading thread(s) and its handle.
#[derive(Debug, Clone)]
pub(crate) struct SharedFilter(Arc<Mutex<KeyFilter>>);

impl SharedFilter {
    pub(crate) fn new(key: PttKey) -> Self {
        Self(Arc::new(Mutex::new(KeyFilter { key, capturing: false, held: false, active: true })))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, KeyFilter> {
        self.0.lock().expect("key filter is never poisoned: nothing under its lock panics")
    }

    pub(crate) fn set_key(&self, key: PttKey) {
        let mut filter = self.lock();
        filter.key = key;
        filter.held = false;
    }

    pub(crate) fn capture_next(&self) {
        self.lock().capturing = true;
    }

    /// Called when the handle is dropped (never panics, even in a drop during unwinding).
    pub(crate) fn stop(&self) {
        if let Ok(mut filter) = self.0.lock() {
            filter.active = false;
        }
    }

    // Only the evdev reader polls it; the other listeners are stopped by `on_key`.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn is_active(&self) -> bool {
        self.0.lock().map(|f| f.active).unwrap_or(false)
    }
}
