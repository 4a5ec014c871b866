//! Development mailbox: the last mails the server "sent", kept in memory for people and
//! tests to read at `/dev/mailbox`.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

use super::OutgoingMail;

/// Older mails are dropped past this many.
const CAPACITY: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct StoredMail {
    pub id: u64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub sent_at: i64,
}

#[derive(Debug, Default)]
pub struct DevMailbox {
    mails: Mutex<(u64, VecDeque<StoredMail>)>,
}

impl DevMailbox {
    pub fn store(&self, mail: &OutgoingMail) {
        let mut guard = self.mails.lock().expect("mailbox lock is never poisoned");
        let (next_id, mails) = &mut *guard;
        *next_id += 1;
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail kept in the dev mailbox");
        mails.push_front(StoredMail {
            id: *next_id,
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            body: mail.body.clone(),
            sent_at: crate::ids::now_ms(),
        });
        mails.truncate(CAPACITY);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<StoredMail> {
        let guard = self.mails.lock().expect("mailbox lock is never poisoned");
        guard.1.iter().cloned().collect()
    }
}
