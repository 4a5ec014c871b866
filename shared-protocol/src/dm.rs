//! Direct messages, blocking, and calls in a direct message.

use serde::{Deserialize, Serialize};

use crate::channel::Channel;
use crate::{Id, Timestamp};

crate::constant::named_constants! {
    CONSTANTS;
    /// Other people one direct message may hold besides its opener (so 2 to 10 in all).
    pub const DM_OTHERS_MAX: usize = 9;
}

/// `POST /api/dms`: open the conversation of the caller and these users (1 to
/// `DM_OTHERS_MAX` others, each once, not the caller). The same set of people, in any
/// order, always gets the same conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OpenDmRequest {
    pub user_ids: Vec<Id>,
}

/// A direct message and who takes part in it (the caller included), in id order.
/// Clients name it after the participants other than the reader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DirectMessage {
    pub channel: Channel,
    pub participant_ids: Vec<Id>,
}

/// Someone the caller blocked (`GET /api/users/me/blocks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Block {
    pub user_id: Id,
    pub created_at: Timestamp,
}
