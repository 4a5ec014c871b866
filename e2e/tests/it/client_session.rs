//! Session state follows the gateway: another user's message lands in the cache and the
//! unread count; a lost session is rebuilt over REST.

use std::time::Duration;

use cromulent_client::gateway::{ConnectionState, Gateway};
use cromulent_client::session::{Change, Session};
use cromulent_e2e::{quick_gateway_config, AdaAndBob, CutProxy, Database, TestServer};
use cromulent_protocol::gateway::Event;
use cromulent_protocol::Id;
use tokio::sync::broadcast::Receiver;

const DEADLINE: Duration = Duration::from_secs(15);

async fn until(changes: &mut Receiver<Change>, mut pick: impl FnMut(&Change) -> bool) {
    tokio::time::timeout(DEADLINE, async {
        while !pick(&changes.recv().await.expect("the session keeps publishing")) {}
    })
    .await
    .expect("the awaited change arrives before the deadline");
}

fn created(change: &Change, id: Id) -> bool {
    matches!(change, Change::Event(Event::MessageCreate { message }) if message.id == id)
}

async fn another_users_message_updates_the_state(db: Database) {
    let server = TestServer::start(db).await;
    let AdaAndBob { ada_client, bob_client, .. } = server.ada_and_bob().await;
    let gateway = Gateway::connect(quick_gateway_config(&server.base, &ada_client)).await.expect("connects");
    let session = Session::start(&gateway, ada_client.clone());
    let mut changes = session.changes();
    let channel = session.read(|s| s.channel_named("general").expect("#general").channel.id);
    let unread_before = session.read(|s| s.channels[&channel].unread_count);

    let message = bob_client.send_message(channel, "hello ada").await.expect("send");
    until(&mut changes, |c| created(c, message.id)).await;
    session.read(|s| {
        let cached = s.messages.get(&channel).expect("the channel has a cache now");
        assert_eq!(cached.back().map(|m| m.id), Some(message.id), "the new message is the newest cached");
        assert_eq!(s.channels[&channel].unread_count, unread_before + 1, "someone else's message is unread");
        assert_eq!(
            s.channels[&channel].last_message_id,
            Some(message.id),
            "the channel's newest message moved"
        );
        assert_eq!(s.user_name(message.author_id), "bob", "authors resolve from the ready snapshot");
    });

    let own = ada_client.send_message(channel, "hi bob").await.expect("send");
    until(&mut changes, |c| created(c, own.id)).await;
    assert_eq!(
        session.read(|s| s.channels[&channel].unread_count),
        unread_before + 1,
        "one's own message is not unread"
    );
    gateway.close().await;
}

#[tokio::test]
async fn another_users_message_updates_the_state_sqlite() {
    another_users_message_updates_the_state(Database::Sqlite).await;
}

#[tokio::test]
async fn another_users_message_updates_the_state_postgres() {
    another_users_message_updates_the_state(Database::Postgres).await;
}

#[tokio::test]
async fn a_lost_session_is_refetched_over_rest() {
    let server = TestServer::start_with(Database::Sqlite, |c| c.gateway_replay_events = 2).await;
    let AdaAndBob { ada_client, bob_client, .. } = server.ada_and_bob().await;
    let proxy = CutProxy::start(&server.base).await;
    let gateway = Gateway::connect(quick_gateway_config(&proxy.base, &ada_client)).await.expect("connects");
    let session = Session::start(&gateway, ada_client.clone());
    let mut changes = session.changes();
    let channel = session.read(|s| s.channel_named("general").expect("#general").channel.id);
    session.load_messages(channel).await.expect("history loads");

    proxy.cut();
    until(&mut changes, |c| matches!(c, Change::Connection(ConnectionState::Reconnecting { .. }))).await;
    let mut missed = Vec::new();
    for n in 0..5 {
        missed.push(bob_client.send_message(channel, &format!("while away {n}")).await.expect("send").id);
    }
    proxy.restore();
    until(&mut changes, |c| matches!(c, Change::Connection(ConnectionState::InvalidSession))).await;
    until(&mut changes, |c| matches!(c, Change::Reset)).await;
    let cached: Vec<Id> = session.read(|s| s.messages[&channel].iter().map(|m| m.id).collect());
    assert!(
        missed.iter().all(|id| cached.contains(id)),
        "messages the gateway could not replay are refetched over REST: {missed:?} in {cached:?}"
    );
    gateway.close().await;
}
