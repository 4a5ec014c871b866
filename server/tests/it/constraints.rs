//! Unique constraints map to typed errors by their name, on both databases: a request
//! that loses the race past the handler's own check hears the same specific code as one
//! the check caught (SQLite names the columns, PostgreSQL the constraint).

use cromulent_protocol::channel::{Channel, ChannelKind, WritePermission};
use cromulent_protocol::user::Role;
use cromulent_protocol::{ErrorCode, Id};
use cromulent_server::http::error::HttpError;
use cromulent_server::store::groups::NewGroup;
use cromulent_server::store::messages::NewMessage;
use cromulent_server::store::users::NewUser;
use cromulent_server::store::{self, Failure, Unique};
use reqwest::StatusCode;

use crate::db_test;

fn user<'a>(id: Id, email: &'a str, username: &'a str) -> NewUser<'a> {
    NewUser {
        id,
        email,
        username,
        password_hash: "not a hash",
        role: Role::Member,
        email_confirmed_at: None,
        created_at: 0,
    }
}

fn channel(id: Id, name: &str) -> Channel {
    Channel {
        id,
        name: name.into(),
        kind: ChannelKind::Text,
        topic: None,
        is_default: false,
        is_private: false,
        write_permission: WritePermission::Everyone,
        voice_mode: None,
        created_at: 0,
    }
}

/// The constraint the failed write names, and the answer HTTP gives for it.
fn judge(err: sqlx::Error) -> (Option<Unique>, StatusCode, ErrorCode) {
    let unique = Unique::violated_by(&err);
    let http = HttpError::from(err);
    let status = StatusCode::from_u16(http.status.as_u16()).expect("a valid status");
    (unique, status, http.body.code)
}

db_test! {
    async fn taken_names_and_addresses_name_their_constraint(srv) {
        let pool = srv.state.db.pool();
        let ids = &srv.state.ids;
        store::users::insert(pool, &user(ids.next(), "zoe@example.com", "Zoe")).await.expect("first user");

        let err = store::users::insert(pool, &user(ids.next(), "zoe@example.com", "zed")).await.expect_err("same address");
        assert_eq!(
            judge(err),
            (Some(Unique::Email), StatusCode::CONFLICT, ErrorCode::EmailTaken),
            "a second account on one address is the address's conflict"
        );

        let err = store::users::insert(pool, &user(ids.next(), "other@example.com", "zoe")).await.expect_err("same name");
        assert_eq!(
            judge(err),
            (Some(Unique::Username), StatusCode::CONFLICT, ErrorCode::UsernameTaken),
            "names compare case-insensitively, through username_key"
        );

        store::channels::insert(pool, &channel(ids.next(), "lounge")).await.expect("first channel");
        let err = store::channels::insert(pool, &channel(ids.next(), "lounge")).await.expect_err("same name");
        assert_eq!(
            judge(err),
            (Some(Unique::ChannelName), StatusCode::CONFLICT, ErrorCode::ChannelNameTaken),
            "two channels cannot share a name"
        );

        let group = |id, name| NewGroup { id, name, colour: "#1e90ff", created_at: 0 };
        store::groups::insert(pool, &group(ids.next(), "Crew")).await.expect("first group");
        let err = store::groups::insert(pool, &group(ids.next(), "crew")).await.expect_err("same name");
        assert_eq!(
            judge(err),
            (Some(Unique::GroupName), StatusCode::CONFLICT, ErrorCode::GroupNameTaken),
            "group names compare case-insensitively, through name_key"
        );
    }
}

db_test! {
    async fn other_unique_keys_stay_a_generic_conflict(srv) {
        let pool = srv.state.db.pool();
        let ids = &srv.state.ids;
        let author = ids.next();
        store::users::insert(pool, &user(author, "ann@example.com", "ann")).await.expect("author");
        let lounge = ids.next();
        store::channels::insert(pool, &channel(lounge, "lounge")).await.expect("channel");
        let message = |id, nonce| NewMessage { id, channel_id: lounge, author_id: author, body: "hi", nonce, created_at: 0, reply_to: None };
        store::messages::insert(pool, &message(ids.next(), Some("n-1"))).await.expect("first message");

        let err = store::messages::insert(pool, &message(ids.next(), Some("n-1"))).await.expect_err("same nonce");
        assert_eq!(
            judge(err),
            (Some(Unique::MessageNonce), StatusCode::CONFLICT, ErrorCode::Conflict),
            "a repeated nonce is named, though sending answers it with the stored message before this"
        );

        let err = store::users::insert(pool, &user(author, "new@example.com", "new")).await.expect_err("same id");
        assert!(Unique::violated_by(&err).is_none(), "a primary key is no name a user chose");
        assert_eq!(Failure::from(err), Failure::Duplicate, "an id drawn twice is a retryable duplicate");
    }
}
