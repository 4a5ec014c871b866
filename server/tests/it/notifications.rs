//! Mentions become notifications for exactly the right people; the inbox pages and
//! marks read.

use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::group::Group;
use cromulent_protocol::message::{Mention, Message};
use cromulent_protocol::notification::{MarkedRead, Notification};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::StatusCode;
use serde_json::json;

use crate::db_test;
use crate::harness::{TestServer, TestUser};
use crate::messages::{channel_id, make_channel, send};

pub async fn inbox(srv: &TestServer, user: &TestUser, query: &str) -> Vec<Notification> {
    srv.get(&format!("/api/notifications{query}"), user).await.ok()
}

/// A group made by the admin `ann` through the groups API.
async fn make_group(srv: &TestServer, ann: &TestUser, name: &str, members: &[&TestUser]) -> Id {
    let member_ids: Vec<Id> = members.iter().map(|m| m.id).collect();
    let body = json!({"name": name, "colour": "#336699", "member_ids": member_ids});
    let group: Group = srv.post("/api/groups", ann, body).await.ok();
    group.id
}

db_test!(
    async fn a_mention_notifies_the_mentioned_user_only(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let general = channel_id(&srv, "general").await;
        let body = format!("@bob please look at this {}", "x".repeat(200));
        let msg = send(&srv, &ann, general, &body).await;
        let got = inbox(&srv, &bob, "").await;
        assert_eq!(got.len(), 1, "bob was mentioned once: {got:?}");
        let n = &got[0];
        assert_eq!((n.channel_id, n.message_id, n.actor_id), (general, msg.id, ann.id), "it points at the message");
        assert_eq!(n.excerpt, body.chars().take(140).collect::<String>(), "the excerpt is the first 140 characters");
        assert!(n.read_at.is_none(), "new notifications are unread");
        assert!(inbox(&srv, &carol, "").await.is_empty(), "carol was not mentioned");
        assert!(inbox(&srv, &ann, "").await.is_empty(), "the author is not notified");

        send(&srv, &ann, general, "me, @ann, and `@carol` in code\n```\n@carol\n```\nmail carol@example.test").await;
        assert!(inbox(&srv, &ann, "").await.is_empty(), "mentioning oneself notifies nobody");
        assert!(inbox(&srv, &carol, "").await.is_empty(), "code and addresses are not mentions");
        send(&srv, &ann, general, "@nobody-by-that-name hello").await;
        assert_eq!(inbox(&srv, &bob, "").await.len(), 1, "unknown names notify nobody");
    }
);

db_test!(
    async fn a_group_mention_reaches_its_members(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let dave = srv.user("dave").await;
        let devs = make_group(&srv, &ann, "Devs", &[&ann, &bob, &carol]).await;
        let general = channel_id(&srv, "general").await;
        let msg = send(&srv, &ann, general, "@devs standup in 5").await;
        assert_eq!(msg.mentions, [Mention::Group { group_id: devs }], "the name resolves to the group");
        for member in [&bob, &carol] {
            let got = inbox(&srv, member, "").await;
            assert_eq!(got.iter().map(|n| n.message_id).collect::<Vec<_>>(), [msg.id], "{} is in the group", member.username);
        }
        assert!(inbox(&srv, &dave, "").await.is_empty(), "dave is not in the group");
        assert!(inbox(&srv, &ann, "").await.is_empty(), "the author is not notified, even as a member");

        let both = send(&srv, &ann, general, "@bob and @devs").await;
        let bobs: Vec<Id> = inbox(&srv, &bob, "").await.iter().map(|n| n.message_id).collect();
        assert_eq!(bobs, [both.id, msg.id], "named twice, notified once per message");
    }
);

db_test!(
    async fn everyone_reaches_only_those_who_may_see_the_channel(srv) {
        let ann = srv.user("ann").await; // admin, not a member below
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let dave = srv.user("dave").await;
        make_group(&srv, &ann, "team", &[&carol, &dave]).await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&bob, &dave]).await;

        let all = send(&srv, &bob, secret, "@everyone meeting").await;
        assert_eq!(all.mentions, [Mention::Everyone]);
        assert_eq!(inbox(&srv, &ann, "").await.len(), 1, "admins may see private channels");
        assert_eq!(inbox(&srv, &dave, "").await.len(), 1, "members are reached");
        assert!(inbox(&srv, &carol, "").await.is_empty(), "@everyone must not reach outside a private channel");

        send(&srv, &bob, secret, "@here and @carol and @team").await;
        assert!(inbox(&srv, &carol, "").await.is_empty(), "naming an outsider does not leak the channel to her");
        assert_eq!(inbox(&srv, &dave, "").await.len(), 2, "dave, a member, is reached through @team");
        assert!(inbox(&srv, &bob, "").await.is_empty(), "never the author");

        let general = channel_id(&srv, "general").await;
        send(&srv, &ann, general, "@everyone welcome").await;
        for user in [&bob, &carol] {
            assert!(inbox(&srv, user, "").await.iter().any(|n| n.channel_id == general), "a public @everyone reaches {}", user.username);
        }
    }
);

db_test!(
    async fn an_edit_notifies_only_the_newly_mentioned(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let general = channel_id(&srv, "general").await;
        let msg = send(&srv, &ann, general, "hi @bob").await;
        let path = format!("/api/messages/{}", msg.id);
        let edited: Message = srv.patch(&path, &ann, json!({"body": "hi @bob and @carol"})).await.ok();
        let mut expected = vec![Mention::User { user_id: bob.id }, Mention::User { user_id: carol.id }];
        expected.sort_by_key(|m| match m { Mention::User { user_id } => user_id.0, _ => 0 });
        assert_eq!(edited.mentions, expected, "mentions are parsed again");
        assert_eq!(inbox(&srv, &bob, "").await.len(), 1, "bob was mentioned before: no second notification");
        assert_eq!(inbox(&srv, &carol, "").await.len(), 1, "carol is newly mentioned");

        let back: Message = srv.patch(&path, &ann, json!({"body": "hi @bob"})).await.ok();
        assert_eq!(back.mentions, [Mention::User { user_id: bob.id }], "mention rows are replaced, not added to");
        let stored: Vec<Message> = srv.get(&format!("/api/channels/{general}/messages"), &ann).await.ok();
        assert_eq!(stored, [back], "history shows the replaced mentions");
    }
);

db_test!(
    async fn the_inbox_pages_and_marks_read(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        for i in 0..5 {
            send(&srv, &ann, general, &format!("@bob number {i}")).await;
        }
        let all = inbox(&srv, &bob, "").await;
        assert_eq!(all.len(), 5);
        assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        let first = inbox(&srv, &bob, "?limit=2").await;
        let rest = inbox(&srv, &bob, &format!("?before={}", first[1].id)).await;
        assert_eq!([first, rest].concat(), all, "paging with before covers the inbox exactly");

        let one: Notification = srv.post(&format!("/api/notifications/{}/read", all[2].id), &bob, json!({})).await.ok();
        assert!(one.read_at.is_some(), "marked read");
        let unread = inbox(&srv, &bob, "?unread_only=true").await;
        assert_eq!(unread.len(), 4, "the read one left the unread view");
        assert!(unread.iter().all(|n| n.id != all[2].id));

        srv.post(&format!("/api/notifications/{}/read", all[0].id), &ann, json!({})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post("/api/notifications/77/read", &bob, json!({})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post("/api/notifications/x/read", &bob, json!({})).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.get("/api/notifications?limit=0", &bob).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert_eq!(inbox(&srv, &bob, "?unread_only=true").await.len(), 4, "refused requests marked nothing");

        let marked: MarkedRead = srv.post("/api/notifications/read_all", &bob, json!({})).await.ok();
        assert_eq!(marked.marked, 4, "only the unread ones are counted");
        assert!(inbox(&srv, &bob, "?unread_only=true").await.is_empty());
        assert_eq!(inbox(&srv, &bob, "").await.len(), 5, "read notifications stay in the inbox");
    }
);

db_test!(
    async fn notifications_follow_their_message_and_channel(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let gone = send(&srv, &ann, general, "@bob soon deleted").await;
        assert_eq!(srv.delete(&format!("/api/messages/{}", gone.id), &ann).await.status, StatusCode::NO_CONTENT);
        assert!(inbox(&srv, &bob, "").await.is_empty(), "a deleted message takes its notifications along");

        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&ann, &bob]).await;
        send(&srv, &ann, secret, "@bob the secret plan").await;
        assert_eq!(inbox(&srv, &bob, "").await.len(), 1);
        cromulent_server::store::memberships::remove(srv.state.db.pool(), secret, bob.id).await.expect("leave");
        assert!(inbox(&srv, &bob, "").await.is_empty(), "excerpts from a private channel he left are hidden");
    }
);
