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

db_test!(
    async fn members_come_in_pages_by_user_id_and_only_to_readers(srv) {
        let ann = srv.user("ann").await;
        let mut users = Vec::new();
        for name in ["bob", "carol", "dave", "erin", "fred"] {
            users.push(srv.user(name).await);
        }
        let lounge = create(&srv, &ann, json!({"name": "lounge", "kind": "text"})).await;
        // Joined in reverse, so join order and id order differ.
        for user in users.iter().rev() {
            srv.post(&format!("/api/channels/{}/join", lounge.id), user, json!({})).await.ok::<Value>();
        }
        let mut expected: Vec<Id> = users.iter().map(|u| u.id).collect();
        expected.sort();

        let path = format!("/api/channels/{}/members", lounge.id);
        let mut seen = Vec::new();
        let mut after: Option<Id> = None;
        loop {
            let query = after.map_or("?limit=2".to_owned(), |a| format!("?limit=2&after={a}"));
            let page: Vec<ChannelMember> = srv.get(&format!("{path}{query}"), &users[0]).await.ok();
            assert!(page.len() <= 2, "a page holds at most `limit`: {page:?}");
            seen.extend(page.iter().map(|m| m.user_id));
            if page.len() < 2 {
                break;
            }
            after = page.last().map(|m| m.user_id);
        }
        assert_eq!(seen, expected, "pages walk every member once, by user id");
        assert_eq!(member_ids(&srv, &ann, lounge.id).await, expected, "without paging parameters: the first page, in id order");

        for bad in ["?limit=0", "?limit=1001", "?limit=x", "?after=bob"] {
            srv.get(&format!("{path}{bad}"), &ann).await.error(
                if bad == "?limit=0" || bad == "?limit=1001" { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST },
                if bad == "?limit=0" || bad == "?limit=1001" { ErrorCode::ValidationFailed } else { ErrorCode::MalformedRequest },
            );
        }

        let staff = create(&srv, &ann, json!({"name": "staff", "kind": "text", "is_private": true})).await;
        let staff_path = format!("/api/channels/{}/members", staff.id);
        srv.get(&format!("{staff_path}?limit=10"), &users[0]).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put(&format!("{staff_path}/{}", users[1].id), &ann).await.ok::<Value>();
        let page: Vec<ChannelMember> = srv.get(&format!("{staff_path}?limit=10"), &users[1]).await.ok();
        let mut staff_ids = vec![ann.id, users[1].id];
        staff_ids.sort();
        assert_eq!(page.iter().map(|m| m.user_id).collect::<Vec<_>>(), staff_ids, "a member reads the private list");
        srv.get(&staff_path, &users[0]).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
);
