//! Groups end to end: everyone reads them, admins write them, and names stay mentionable.

use cromulent_protocol::group::Group;
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::harness::{TestServer, TestUser};

async fn groups(srv: &TestServer, user: &TestUser) -> Vec<Group> {
    srv.get("/api/groups", user).await.ok()
}

/// Creates a group as `admin`, asserting `201 Created`.
async fn create(srv: &TestServer, admin: &TestUser, body: Value) -> Group {
    let reply = srv.post("/api/groups", admin, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "creating a group answers 201: {}", reply.body);
    reply.json()
}

db_test!(
    async fn admins_create_update_and_delete_groups(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        assert!(groups(&srv, &bob).await.is_empty(), "a new server has no groups");

        let mods = create(&srv, &ann, json!({"name": " Mods ", "colour": "#FF8800", "member_ids": [carol.id, bob.id, bob.id]})).await;
        assert_eq!((mods.name.as_str(), mods.colour.as_str()), ("Mods", "#ff8800"), "name trimmed, colour lower-cased");
        let mut expected = vec![bob.id, carol.id];
        expected.sort();
        assert_eq!(mods.member_ids, expected, "members are stored once each");
        assert_eq!(groups(&srv, &bob).await, std::slice::from_ref(&mods), "every user reads the groups with their members");
        let empty = create(&srv, &ann, json!({"name": "alpha", "colour": "#000000"})).await;
        assert!(empty.member_ids.is_empty(), "members are optional");
        let names: Vec<String> = groups(&srv, &bob).await.into_iter().map(|g| g.name).collect();
        assert_eq!(names, ["alpha", "Mods"], "groups are listed by name, ignoring case");

        let path = format!("/api/groups/{}", mods.id);
        let renamed: Group = srv.patch(&path, &ann, json!({"name": "moderators", "member_ids": [ann.id]})).await.ok();
        assert_eq!(renamed.name, "moderators");
        assert_eq!(renamed.member_ids, [ann.id], "member_ids replaces the members");
        assert_eq!(renamed.colour, "#ff8800", "absent fields are left alone");
        let recased: Group = srv.patch(&path, &ann, json!({"name": "Moderators", "colour": "#00ff00"})).await.ok();
        assert_eq!(recased.name, "Moderators", "a group may change the case of its own name");
        assert_eq!(recased.member_ids, [ann.id], "members stay unless member_ids is sent");
        let listed = groups(&srv, &bob).await.into_iter().find(|g| g.id == mods.id).expect("still listed");
        assert_eq!(listed, recased, "the change is stored, not just echoed");

        srv.delete(&path, &ann).await.ok::<Value>();
        assert_eq!(groups(&srv, &bob).await, [empty], "a deleted group leaves the list");
        srv.delete(&path, &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.patch(&path, &ann, json!({"colour": "#123456"})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
);

db_test!(
    async fn group_names_colours_and_members_are_checked(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let crew = create(&srv, &ann, json!({"name": "crew", "colour": "#112233", "member_ids": [bob.id]})).await;
        let before = groups(&srv, &ann).await;

        let invalid = [
            (json!({"name": "", "colour": "#112233"}), "name"),
            (json!({"name": "two words", "colour": "#112233"}), "name"),
            (json!({"name": "ends.", "colour": "#112233"}), "name"),
            (json!({"name": "x".repeat(33), "colour": "#112233"}), "name"),
            (json!({"name": "Everyone", "colour": "#112233"}), "name"),
            (json!({"name": "here", "colour": "#112233"}), "name"),
            (json!({"name": "ok", "colour": "red"}), "colour"),
            (json!({"name": "ok", "colour": "#12345"}), "colour"),
            (json!({"name": "ok", "colour": "#12345z"}), "colour"),
            (json!({"name": "ok", "colour": "#112233", "member_ids": [bob.id, "424242"]}), "member_ids"),
        ];
        for (body, field) in invalid {
            let reply = srv.post("/api/groups", &ann, body.clone()).await;
            let err = reply.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(err.field.as_deref(), Some(field), "{body}: the form must know which field is wrong");
        }
        // `@bob` reaches the user first, so a group named bob could never be mentioned.
        srv.post("/api/groups", &ann, json!({"name": "BOB", "colour": "#112233"}))
            .await
            .error(StatusCode::CONFLICT, ErrorCode::GroupNameTaken);
        srv.post("/api/groups", &ann, json!({"name": "CREW", "colour": "#112233"}))
            .await
            .error(StatusCode::CONFLICT, ErrorCode::GroupNameTaken);
        assert_eq!(groups(&srv, &ann).await, before, "refused creations must not change anything");

        let path = format!("/api/groups/{}", crew.id);
        srv.patch(&path, &ann, json!({"name": "ann"})).await.error(StatusCode::CONFLICT, ErrorCode::GroupNameTaken);
        srv.patch(&path, &ann, json!({"colour": "#abc"}))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        let err = srv
            .patch(&path, &ann, json!({"name": "renamed", "member_ids": ["424242"]}))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert_eq!(err.field.as_deref(), Some("member_ids"));
        assert_eq!(groups(&srv, &ann).await, before, "refused updates must not change anything");
    }
);

db_test!(
    async fn members_read_groups_but_cannot_write_them(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let crew = create(&srv, &ann, json!({"name": "crew", "colour": "#112233"})).await;
        let path = format!("/api/groups/{}", crew.id);
        srv.post("/api/groups", &bob, json!({"name": "mine", "colour": "#112233"}))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch(&path, &bob, json!({"member_ids": [bob.id]})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.delete(&path, &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert_eq!(groups(&srv, &bob).await, [crew], "refused writes must not change anything");
        srv.anonymous(Method::GET, "/api/groups", None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn malformed_group_requests_are_refused_without_change(srv) {
        let ann = srv.user("ann").await;
        let crew = create(&srv, &ann, json!({"name": "crew", "colour": "#112233"})).await;
        let token = Some(ann.access_token.as_str());
        let garbage = srv.call_raw(Method::POST, "/api/groups", token, "application/json", b"{\"name\"".to_vec()).await;
        garbage.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        for body in [
            json!({"name": 5, "colour": "#112233"}),
            json!({"name": "x"}),
            json!({"name": "x", "colour": "#112233", "member_ids": "all"}),
            json!({"name": "x", "colour": "#112233", "member_ids": ["abc"]}),
        ] {
            srv.post("/api/groups", &ann, body).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        }
        let huge = format!("{{\"name\":\"big\",\"colour\":\"#112233\",\"pad\":\"{}\"}}", "a".repeat(70 * 1024));
        let big = srv.call_raw(Method::POST, "/api/groups", token, "application/json", huge.into_bytes()).await;
        big.error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
        srv.patch("/api/groups/abc", &ann, json!({"colour": "#000000"}))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.delete("/api/groups/abc", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.delete("/api/groups/424242", &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.patch(&format!("/api/groups/{}", crew.id), &ann, json!({"name": ["crew"]}))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        assert_eq!(groups(&srv, &ann).await, [crew], "bad requests must not change anything");

        let out = srv.anonymous(Method::POST, "/api/auth/logout", Some(json!({"refresh_token": ann.refresh_token}))).await;
        assert_eq!(out.status, StatusCode::OK, "logout succeeds: {}", out.body);
        srv.post("/api/groups", &ann, json!({"name": "late", "colour": "#112233"}))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);
