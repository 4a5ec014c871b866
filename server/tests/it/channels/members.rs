//! Channel memberships: join and leave, admin add and remove, and private channels that
//! do not exist for outsiders.

use cromulent_protocol::channel::{ChannelListEntry, ChannelMember};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{channels, create, names};
use crate::db_test;
use crate::harness::{TestServer, TestUser};

async fn member_ids(srv: &TestServer, user: &TestUser, channel: Id) -> Vec<Id> {
    let members: Vec<ChannelMember> = srv.get(&format!("/api/channels/{channel}/members"), user).await.ok();
    members.into_iter().map(|m| m.user_id).collect()
}

db_test!(
    async fn users_join_and_leave_public_channels(srv) {
        let admin = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let lounge = create(&srv, &admin, json!({"name": "lounge", "kind": "text"})).await;
        assert!(member_ids(&srv, &bob, lounge.id).await.is_empty(), "a new public channel has no members");

        let joined: ChannelMember = srv.post(&format!("/api/channels/{}/join", lounge.id), &bob, json!({})).await.ok();
        assert_eq!(joined.user_id, bob.id, "the caller joins themselves");
        let again: ChannelMember = srv.post(&format!("/api/channels/{}/join", lounge.id), &bob, json!({})).await.ok();
        assert_eq!(again, joined, "joining twice keeps the first membership");
        assert_eq!(member_ids(&srv, &admin, lounge.id).await, [bob.id], "everyone sees the member list");
        let entry: ChannelListEntry = srv.get(&format!("/api/channels/{}", lounge.id), &bob).await.ok();
        assert!(entry.is_member, "the list reflects the membership");

        srv.post(&format!("/api/channels/{}/leave", lounge.id), &bob, json!({})).await.ok::<Value>();
        assert!(member_ids(&srv, &bob, lounge.id).await.is_empty(), "leaving removes the membership");
        srv.post(&format!("/api/channels/{}/leave", lounge.id), &bob, json!({})).await.ok::<Value>();

        let general = channels(&srv, &bob).await.into_iter().find(|e| e.channel.name == "general").expect("general");
        srv.post(&format!("/api/channels/{}/leave", general.channel.id), &bob, json!({})).await.ok::<Value>();
        assert!(!member_ids(&srv, &bob, general.channel.id).await.contains(&bob.id), "default channels can be left too");
        srv.post("/api/channels/999/join", &bob, json!({})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post("/api/channels/abc/join", &bob, json!({})).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
    }
);

db_test!(
    async fn private_channels_do_not_exist_for_outsiders(srv) {
        let admin = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let secret = create(&srv, &admin, json!({"name": "staff", "kind": "text", "is_private": true})).await;
        assert_eq!(member_ids(&srv, &admin, secret.id).await, [admin.id], "a private channel starts with its creator");

        let path = format!("/api/channels/{}", secret.id);
        assert!(!names(&channels(&srv, &bob).await).contains(&"staff".to_owned()), "outsiders must not see it listed");
        srv.get(&path, &bob).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.get(&format!("{path}/members"), &bob).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post(&format!("{path}/join"), &bob, json!({})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post(&format!("{path}/leave"), &bob, json!({})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert_eq!(member_ids(&srv, &admin, secret.id).await, [admin.id], "a refused join must not add anyone");

        let added: ChannelMember = srv.put(&format!("{path}/members/{}", bob.id), &admin).await.ok();
        assert_eq!(added.user_id, bob.id, "an admin adds a member");
        let entry: ChannelListEntry = srv.get(&path, &bob).await.ok();
        assert!(entry.is_member && entry.channel.is_private, "a member sees the private channel");
        assert!(names(&channels(&srv, &bob).await).contains(&"staff".to_owned()), "and finds it in their list");
        let again: ChannelMember = srv.put(&format!("{path}/members/{}", bob.id), &admin).await.ok();
        assert_eq!(again, added, "adding twice keeps the first membership");

        srv.delete(&format!("{path}/members/{}", bob.id), &admin).await.ok::<Value>();
        srv.get(&path, &bob).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.delete(&format!("{path}/members/{}", bob.id), &admin)
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);

        srv.delete(&format!("{path}/members/{}", admin.id), &admin).await.ok::<Value>();
        let seen: ChannelListEntry = srv.get(&path, &admin).await.ok();
        assert!(!seen.is_member, "admins see every private channel, member or not");
        srv.post(&format!("{path}/join"), &admin, json!({})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert!(member_ids(&srv, &admin, secret.id).await.is_empty(), "a private channel is not joined, members are added");
    }
);

db_test!(
    async fn membership_admin_operations_check_rights_and_ids(srv) {
        let admin = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let room = create(&srv, &admin, json!({"name": "room", "kind": "voice", "is_private": true})).await;
        let path = format!("/api/channels/{}/members", room.id);

        srv.put(&format!("{path}/{}", carol.id), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.delete(&format!("{path}/{}", admin.id), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.put(&format!("{path}/424242"), &admin).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put(&format!("/api/channels/424242/members/{}", bob.id), &admin)
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put(&format!("{path}/bob"), &admin).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.delete(&format!("{path}/424242"), &admin).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        let revoked = srv.anonymous(Method::POST, "/api/auth/logout", Some(json!({"refresh_token": admin.refresh_token}))).await;
        assert_eq!(revoked.status, StatusCode::OK, "logout succeeds: {}", revoked.body);
        srv.put(&format!("{path}/{}", bob.id), &admin).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);

        let admin = srv.login(&admin.email, admin.id, &admin.username).await;
        assert_eq!(member_ids(&srv, &admin, room.id).await, [admin.id], "refused changes must not change the members");
    }
);
