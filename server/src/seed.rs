//! What a new server starts with: the default channels.

use cromulent_protocol::channel::{Channel, ChannelKind, WritePermission};

use crate::ids::{now_ms, IdGenerator};
use crate::store::{self, Db};

/// The original app's defaults: two text channels and one voice room.
const DEFAULT_CHANNELS: [(&str, ChannelKind); 3] =
    [("general", ChannelKind::Text), ("random", ChannelKind::Text), ("voice-main", ChannelKind::Voice)];

/// Creates the default channels on an empty server; a server that has any channel
/// (even after an admin deleted these) is left as it is.
pub async fn default_channels(db: &Db, ids: &IdGenerator) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    if store::channels::count(&mut *tx).await? > 0 {
        return Ok(());
    }
    let now = now_ms();
    for (name, kind) in DEFAULT_CHANNELS {
        let channel = Channel {
            id: ids.next(),
            name: name.to_owned(),
            kind,
            topic: None,
            is_default: true,
            is_private: false,
            write_permission: WritePermission::Everyone,
            voice_mode: None,
            created_at: now,
        };
        store::channels::insert(&mut *tx, &channel).await?;
        store::memberships::add_everyone(&mut *tx, channel.id, now).await?;
    }
    tx.commit().await
}
