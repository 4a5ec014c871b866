//! Admin changes outside moderation that the audit log records: invites, groups and
//! the members an admin adds to or removes from a channel. Refused changes record nothing.

use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::group::Group;
use cromulent_protocol::invite::{CreatedInvite, Invite};
use cromulent_protocol::moderation::{AuditAction, AuditEntry};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::db_test;
use crate::harness::{TestServer, TestUser};
use crate::messages::make_channel;

async fn audit_log(srv: &TestServer, admin: &TestUser) -> Vec<AuditEntry> {
    srv.get("/api/admin/audit_log", admin).await.ok()
}

/// The newest entry, which must be `action` by `actor`.
async fn newest(srv: &TestServer, admin: &TestUser, action: AuditAction, actor: Id) -> AuditEntry {
    let log = audit_log(srv, admin).await;
    let entry = log.first().unwrap_or_else(|| panic!("no entry for {action:?}")).clone();
    assert_eq!((entry.action, entry.actor_id), (action, actor), "the newest entry records the change");
    entry
}

db_test!(
    async fn invites_are_audited(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let created: CreatedInvite =
            srv.post("/api/invites", &ann, json!({"max_uses": 3, "expires_in_secs": 3600})).await.ok();
        let entry = newest(&srv, &ann, AuditAction::InviteCreated, ann.id).await;
        assert_eq!((&entry.details["invite_id"], &entry.details["max_uses"]), (&json!(created.invite.id), &json!(3)));
        assert!(!entry.details.to_string().contains(&created.code), "the code itself is not in the log");

        srv.post("/api/invites", &bob, json!({"max_uses": 3, "expires_in_secs": 3600})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.delete(&format!("/api/invites/{}", created.invite.id), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        newest(&srv, &ann, AuditAction::InviteCreated, ann.id).await;

        let _: Invite = srv.delete(&format!("/api/invites/{}", created.invite.id), &ann).await.ok();
        let entry = newest(&srv, &ann, AuditAction::InviteRevoked, ann.id).await;
        assert_eq!(entry.details["invite_id"], json!(created.invite.id));
    }
);

db_test!(
    async fn group_changes_are_audited_with_members_added_and_removed(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let group: Group =
            srv.post("/api/groups", &ann, json!({"name": "crew", "colour": "#336699", "member_ids": [bob.id]})).await.ok();
        let entry = newest(&srv, &ann, AuditAction::GroupCreated, ann.id).await;
        assert_eq!((&entry.details["name"], &entry.details["added"]), (&json!("crew"), &json!([bob.id])));

        let path = format!("/api/groups/{}", group.id);
        srv.patch(&path, &bob, json!({"name": "mine"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch(&path, &ann, json!({"colour": "red"})).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        newest(&srv, &ann, AuditAction::GroupCreated, ann.id).await;

        srv.patch(&path, &ann, json!({"name": "team", "member_ids": [carol.id]})).await.ok::<Group>();
        let entry = newest(&srv, &ann, AuditAction::GroupUpdated, ann.id).await;
        assert_eq!(entry.details["added"], json!([carol.id]), "carol joined");
        assert_eq!(entry.details["removed"], json!([bob.id]), "bob left");
        assert_eq!(entry.details["renamed_from"], json!("crew"));

        srv.delete(&path, &ann).await.ok::<Value>();
        let entry = newest(&srv, &ann, AuditAction::GroupDeleted, ann.id).await;
        assert_eq!((&entry.details["name"], &entry.details["removed"]), (&json!("team"), &json!([carol.id])));
        srv.delete(&path, &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert_eq!(audit_log(&srv, &ann).await.len(), 3, "the refused changes recorded nothing");
    }
);

db_test!(
    async fn members_an_admin_adds_or_removes_are_audited(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let staff = make_channel(&srv, "staff", true, WritePermission::Everyone, &[&ann]).await;
        let path = format!("/api/channels/{staff}/members/{}", bob.id);

        srv.put(&path, &carol).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert!(audit_log(&srv, &ann).await.is_empty(), "a refused change records nothing");

        srv.put(&path, &ann).await.ok::<Value>();
        let entry = newest(&srv, &ann, AuditAction::ChannelMemberAdded, ann.id).await;
        assert_eq!((entry.target_user_id, entry.target_channel_id), (Some(bob.id), Some(staff)));
        assert_eq!(entry.details["is_private"], json!(true));
        srv.put(&path, &ann).await.ok::<Value>();
        assert_eq!(audit_log(&srv, &ann).await.len(), 1, "adding a member again changes nothing and records nothing");

        srv.delete(&path, &ann).await.ok::<Value>();
        let entry = newest(&srv, &ann, AuditAction::ChannelMemberRemoved, ann.id).await;
        assert_eq!((entry.target_user_id, entry.target_channel_id), (Some(bob.id), Some(staff)));
        srv.delete(&path, &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert_eq!(audit_log(&srv, &ann).await.len(), 2);
    }
);
