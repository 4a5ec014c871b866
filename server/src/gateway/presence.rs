//! Presence across sessions and nodes: a user is online if any session anywhere is
//! online, idle if the best is idle, offline otherwise.

use std::collections::HashMap;

use cromulent_protocol::gateway::{Presence, PresenceStatus};
use cromulent_protocol::Id;

pub fn rank(status: PresenceStatus) -> u8 {
    match status {
        PresenceStatus::Offline => 0,
        PresenceStatus::Idle => 1,
        PresenceStatus::Online => 2,
    }
}

pub fn best(statuses: impl IntoIterator<Item = PresenceStatus>) -> PresenceStatus {
    statuses.into_iter().max_by_key(|s| rank(*s)).unwrap_or(PresenceStatus::Offline)
}

#[derive(Debug, Default)]
pub struct PresenceBook {
    /// What this node last reported for its own sessions, per user.
    local: HashMap<Id, PresenceStatus>,
    /// What other nodes reported, per (node, user).
    remote: HashMap<(u16, Id), PresenceStatus>,
    /// What clients of this node were last told, per user.
    announced: HashMap<Id, PresenceStatus>,
}

/// The outcome of a change: what to tell other nodes and what to tell clients.
#[derive(Debug, Default, PartialEq)]
pub struct PresenceChange {
    pub report_local: Option<PresenceStatus>,
    pub announce: Option<PresenceStatus>,
}

impl PresenceBook {
    pub fn set_local(&mut self, user: Id, status: PresenceStatus) -> PresenceChange {
        let previous = self.local.get(&user).copied().unwrap_or(PresenceStatus::Offline);
        if status == PresenceStatus::Offline {
            self.local.remove(&user);
        } else {
            self.local.insert(user, status);
        }
        PresenceChange {
            report_local: (previous != status).then_some(status),
            announce: self.reannounce(user),
        }
    }

    pub fn set_remote(&mut self, node: u16, user: Id, status: PresenceStatus) -> Option<PresenceStatus> {
        if status == PresenceStatus::Offline {
            self.remote.remove(&(node, user));
        } else {
            self.remote.insert((node, user), status);
        }
        self.reannounce(user)
    }

    /// A node died or left: its users count as offline there. Returns each user whose
    /// announced presence changed, with the new one.
    pub fn forget_node(&mut self, node: u16) -> Vec<(Id, PresenceStatus)> {
        let users: Vec<Id> = self.remote.keys().filter(|(n, _)| *n == node).map(|(_, u)| *u).collect();
        self.remote.retain(|(n, _), _| *n != node);
        users.into_iter().filter_map(|user| self.reannounce(user).map(|status| (user, status))).collect()
    }

    fn global(&self, user: Id) -> PresenceStatus {
        let local = self.local.get(&user).copied();
        let remote = self.remote.iter().filter(|((_, u), _)| *u == user).map(|(_, s)| *s);
        best(local.into_iter().chain(remote))
    }

    fn reannounce(&mut self, user: Id) -> Option<PresenceStatus> {
        let now = self.global(user);
        let before = self.announced.get(&user).copied().unwrap_or(PresenceStatus::Offline);
        if now == before {
            return None;
        }
        if now == PresenceStatus::Offline {
            self.announced.remove(&user);
        } else {
            self.announced.insert(user, now);
        }
        Some(now)
    }

    /// Everyone not offline, for a ready snapshot.
    pub fn all(&self) -> Vec<Presence> {
        let mut list: Vec<Presence> = self
            .announced
            .iter()
            .map(|(user_id, status)| Presence { user_id: *user_id, status: *status })
            .collect();
        list.sort_by_key(|p| p.user_id);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PresenceStatus::*;

    #[test]
    fn a_gone_node_takes_its_users_presence_with_it() {
        let mut book = PresenceBook::default();
        let (ann, bob) = (Id(1), Id(2));
        book.set_remote(2, ann, Online);
        book.set_remote(2, bob, Idle);
        book.set_remote(3, bob, Online);
        let mut changed = book.forget_node(2);
        changed.sort_by_key(|(user, _)| *user);
        assert_eq!(changed, vec![(ann, Offline)], "bob is still online on node 3");
        assert_eq!(book.all(), vec![Presence { user_id: bob, status: Online }]);
        assert_eq!(book.forget_node(2), vec![], "forgetting twice changes nothing");
    }

    #[test]
    fn the_best_session_wins_across_nodes() {
        let mut book = PresenceBook::default();
        let u = Id(1);
        assert_eq!(
            book.set_local(u, Idle),
            PresenceChange { report_local: Some(Idle), announce: Some(Idle) }
        );
        assert_eq!(
            book.set_remote(2, u, Online),
            Some(Online),
            "another node's online session lifts the user"
        );
        assert_eq!(
            book.set_local(u, Offline),
            PresenceChange { report_local: Some(Offline), announce: None }
        );
        assert_eq!(book.set_remote(2, u, Offline), Some(Offline));
        assert!(book.all().is_empty());
    }
}
