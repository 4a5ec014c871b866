//! Our offers to the SFU and the server's offers to us, which can cross: we are the
//! polite side (RFC 9429's "perfect negotiation"), so a server offer that meets one of
//! ours pending wins; ours is rolled back and made again once the server's is answered.

/// An offer we make to the SFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferKind {
    /// Our microphone's media section, or a renegotiation.
    Plain,
    /// A new ICE session, after the connection failed.
    IceRestart,
}

impl OfferKind {
    /// Two wishes for an offer made as one: an ICE restart includes everything else.
    fn merge(self, other: Option<OfferKind>) -> OfferKind {
        match (self, other) {
            (OfferKind::IceRestart, _) | (_, Some(OfferKind::IceRestart)) => OfferKind::IceRestart,
            _ => OfferKind::Plain,
        }
    }
}

/// Which of our offers is out, and which waits its turn.
#[derive(Debug, Default)]
pub struct Polite {
    /// Sent, not yet answered.
    outstanding: Option<OfferKind>,
    /// Wanted while another was out, or rolled back for a server offer.
    deferred: Option<OfferKind>,
}

impl Polite {
    /// We want to offer `kind`: true to send it now, false when it must wait for the
    /// answer to the offer that is out.
    pub fn want(&mut self, kind: OfferKind) -> bool {
        if self.outstanding.is_some() {
            self.deferred = Some(kind.merge(self.deferred));
            false
        } else {
            self.outstanding = Some(kind);
            true
        }
    }

    /// Whether an answer from the server is one we wait for (a stray one is ignored).
    pub fn answered(&mut self) -> bool {
        self.outstanding.take().is_some()
    }

    /// The server offers: true when our own offer is out and must be rolled back first.
    pub fn server_offer(&mut self) -> bool {
        match self.outstanding.take() {
            Some(ours) => {
                self.deferred = Some(ours.merge(self.deferred));
                true
            }
            None => false,
        }
    }

    /// Our offer could not be made or was refused: nothing is out any more.
    pub fn failed(&mut self) {
        self.outstanding = None;
    }

    /// The offer to make now that nothing is out, if one waits.
    pub fn next_offer(&mut self) -> Option<OfferKind> {
        if self.outstanding.is_some() {
            return None;
        }
        let next = self.deferred.take()?;
        self.outstanding = Some(next);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_offer_that_crosses_ours_rolls_ours_back_and_ours_follows_the_answer() {
        let mut polite = Polite::default();
        assert!(polite.want(OfferKind::IceRestart), "nothing is out: the restart goes now");
        assert!(polite.server_offer(), "the server's offer meets ours: we roll back");
        assert!(!polite.answered(), "an answer to the rolled-back offer is not ours to apply");
        assert_eq!(
            polite.next_offer(),
            Some(OfferKind::IceRestart),
            "after answering, the restart is made again"
        );
        assert_eq!(polite.next_offer(), None, "and only once: it is out now");
        assert!(polite.answered());
        assert_eq!(polite.next_offer(), None, "nothing else waits");
    }

    #[test]
    fn a_server_offer_with_nothing_of_ours_out_is_simply_answered() {
        let mut polite = Polite::default();
        assert!(!polite.server_offer(), "no rollback when we have no offer out");
        assert_eq!(polite.next_offer(), None, "and no offer of ours follows");
    }

    #[test]
    fn wishes_made_while_an_offer_is_out_wait_and_a_restart_wins() {
        let mut polite = Polite::default();
        assert!(polite.want(OfferKind::Plain));
        assert!(!polite.want(OfferKind::IceRestart), "one offer at a time");
        assert!(!polite.want(OfferKind::Plain));
        assert!(polite.answered());
        assert_eq!(polite.next_offer(), Some(OfferKind::IceRestart), "the waiting wishes become one restart");
    }

    #[test]
    fn a_refused_offer_does_not_block_the_next_one() {
        let mut polite = Polite::default();
        assert!(polite.want(OfferKind::Plain));
        polite.failed();
        assert!(polite.want(OfferKind::IceRestart), "after a refusal a restart may go at once");
    }
}
