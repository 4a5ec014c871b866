//! `POST /api/admin/users`: admins create accounts, with a password they choose or a
//! mailed link; everyone else is refused, and taken names and bad input are named.

use cromulent_protocol::auth::LoginResponse;
use cromulent_protocol::user::{OwnUser, Role};
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::harness::{Database, TestServer, TestUser, PASSWORD};

async fn create(srv: &TestServer, admin: &TestUser, body: Value) -> crate::harness::Reply {
    srv.post("/api/admin/users", admin, body).await
}

async fn login_status(srv: &TestServer, email: &str, password: &str) -> StatusCode {
    let body = json!({"email": email, "password": password});
    srv.anonymous(Method::POST, "/api/auth/login", Some(body)).await.status
}

db_test!(
    async fn an_admin_creates_a_user_with_a_password(srv) {
        let ann = srv.user("ann").await;
        let made = create(&srv, &ann, json!({"email": " Dee@Example.TEST ", "username": "dee", "password": PASSWORD, "role": "member"})).await;
        assert_eq!(made.status, StatusCode::CREATED, "an admin may create accounts: {}", made.body);
        let dee: OwnUser = made.json();
        assert_eq!(dee.email, "dee@example.test", "the address is normalised as at registration");
        assert_eq!(dee.user.role, Role::Member, "the role asked for is given");
        assert!(dee.email_confirmed, "an admin who sets the password vouches for the address, as the command line does");
        assert!(srv.last_mail_to("dee@example.test").is_none(), "nobody needs a link when the password is set");
        assert_eq!(login_status(&srv, "dee@example.test", PASSWORD).await, StatusCode::OK, "the new user can log in at once");

        let dee = srv.login("dee@example.test", dee.user.id, "dee").await;
        let own = crate::channels::channels(&srv, &ann).await;
        let theirs = crate::channels::channels(&srv, &dee).await;
        assert_eq!(crate::channels::names(&theirs), crate::channels::names(&own),
            "a created account joins the default channels, like a registered one");

        let boss = create(&srv, &ann, json!({"email": "eve@example.test", "username": "eve", "password": PASSWORD, "role": "admin"})).await;
        let eve: OwnUser = boss.json();
        assert_eq!(eve.user.role, Role::Admin, "admins may create other admins");
    }
);

db_test!(
    async fn without_a_password_the_user_is_mailed_a_link(srv) {
        let ann = srv.user("ann").await;
        let made = create(&srv, &ann, json!({"email": "dee@example.test", "username": "dee", "role": "member"})).await;
        assert_eq!(made.status, StatusCode::CREATED, "a password is optional: {}", made.body);
        let dee: OwnUser = made.json();
        assert!(!dee.email_confirmed, "nobody has shown they read this address yet");

        let token = srv.token_from_mail("dee@example.test", "reset");
        let chosen = "chosen by dee herself";
        srv.anonymous(Method::POST, "/api/auth/reset_password", Some(json!({"token": token, "password": chosen})))
            .await
            .ok::<Value>();
        assert_eq!(login_status(&srv, "dee@example.test", chosen).await, StatusCode::OK,
            "the mailed link sets the password the user chose");
        let body = json!({"email": "dee@example.test", "password": chosen});
        let login: LoginResponse = srv.anonymous(Method::POST, "/api/auth/login", Some(body)).await.ok();
        assert!(login.user.email_confirmed, "following the mailed link proves the address");
    }
);

db_test!(
    async fn taken_names_and_addresses_are_refused(srv) {
        let ann = srv.user("ann").await;
        srv.user("bob").await;
        srv.post("/api/groups", &ann, json!({"name": "mods", "colour": "#336699"})).await.ok::<Value>();
        let taken = json!({"email": "BOB@example.test", "username": "robert", "password": PASSWORD, "role": "member"});
        create(&srv, &ann, taken).await.error(StatusCode::CONFLICT, ErrorCode::EmailTaken);
        let taken = json!({"email": "rob@example.test", "username": "Bob", "password": PASSWORD, "role": "member"});
        create(&srv, &ann, taken).await.error(StatusCode::CONFLICT, ErrorCode::UsernameTaken);
        let group = json!({"email": "rob@example.test", "username": "Mods", "password": PASSWORD, "role": "member"});
        create(&srv, &ann, group).await.error(StatusCode::CONFLICT, ErrorCode::UsernameTaken);
        assert_eq!(login_status(&srv, "rob@example.test", PASSWORD).await, StatusCode::UNAUTHORIZED,
            "a refused creation leaves no account behind");
    }
);

db_test!(
    async fn only_admins_create_users(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let body = json!({"email": "dee@example.test", "username": "dee", "password": PASSWORD, "role": "admin"});
        create(&srv, &bob, body.clone()).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        let anonymous = srv.anonymous(Method::POST, "/api/admin/users", Some(body.clone())).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "signed-out callers are not admins: {}", anonymous.body);
        assert_eq!(login_status(&srv, "dee@example.test", PASSWORD).await, StatusCode::UNAUTHORIZED,
            "a refused member made no account, let alone an admin");
        assert_eq!(create(&srv, &ann, body).await.status, StatusCode::CREATED, "the same request from an admin works");
    }
);

db_test!(
    async fn bad_input_is_refused(srv) {
        let ann = srv.user("ann").await;
        let cases = [
            json!({"email": "not an address", "username": "dee", "role": "member"}),
            json!({"email": "dee@example.test", "username": "no spaces please", "role": "member"}),
            json!({"email": "dee@example.test", "username": "dee", "password": "short", "role": "member"}),
            json!({"email": "dee@example.test", "username": "dee", "password": "", "role": "member"}),
        ];
        for body in cases {
            let reply = create(&srv, &ann, body.clone()).await;
            reply.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        }
        let bad_role = create(&srv, &ann, json!({"email": "dee@example.test", "username": "dee", "role": "owner"})).await;
        assert!(bad_role.status.is_client_error(), "an unknown role is refused: {} {}", bad_role.status, bad_role.body);
        let garbage = srv
            .call_raw(Method::POST, "/api/admin/users", Some(&ann.access_token), "application/json", b"{not json".to_vec())
            .await;
        garbage.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        assert!(srv.last_mail_to("dee@example.test").is_none(), "refused requests mail nobody");
    }
);

#[tokio::test]
async fn the_endpoint_is_documented() {
    let srv = TestServer::start(Database::Sqlite).await;
    let doc = srv.anonymous(Method::GET, "/api/openapi.json", None).await;
    let paths = doc.body["paths"].as_object().expect("the document has a paths object");
    assert!(paths.contains_key("/api/admin/users"), "clients find the endpoint in the OpenAPI document");
    assert!(doc.body["components"]["schemas"].get("CreateUserRequest").is_some(), "its body is described");
}
