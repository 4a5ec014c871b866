//! Replies: the reference every message carries, the notification of the replied-to
//! author (and its opt-out), history `around` the original, and refused replies.

use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::event::Event;
use cromulent_protocol::message::{Message, MessageReference};
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::gateway_client::WAIT;
use crate::messages::{channel_id, history, make_channel, message_count, send};
use crate::notifications::inbox;

db_test!(
    async fn a_reply_carries_its_reference_and_notifies_the_author(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let mut bob_gw = srv.connect(&bob).await;
        let original = send(&srv, &bob, general, "lunch at noon?\nsecond line").await;
        let path = format!("/api/channels/{general}/messages");
        let reply: Message = srv.post(&path, &ann, json!({"body": "yes!", "reply_to": original.id})).await.ok();
        let expected = MessageReference {
            id: original.id,
            author_id: bob.id,
            author_name: "bob".into(),
            excerpt: "lunch at noon?".into(),
            deleted: false,
        };
        assert_eq!(reply.reply_to.as_ref(), Some(&expected), "the answer names the original by its first line");
        let page = history(&srv, &bob, general, "").await;
        assert_eq!(page[0].reply_to.as_ref(), Some(&expected), "history carries the same reference");
        assert_eq!(page[1].reply_to, None, "a message that answers nothing has no reference");
        let event = bob_gw.wait_for_event(|e| matches!(e, Event::MessageCreate { message } if message.id == reply.id), WAIT).await;
        assert!(matches!(event, Event::MessageCreate { message } if message.reply_to == Some(expected.clone())), "the gateway event carries it too");

        let notes = inbox(&srv, &bob, "").await;
        assert_eq!(notes.len(), 1, "the replied-to author is notified like a mention: {notes:?}");
        assert_eq!((notes[0].message_id, notes[0].actor_id), (reply.id, ann.id));
        let own = srv.post(&path, &bob, json!({"body": "answering myself", "reply_to": original.id})).await;
        assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
        assert_eq!(inbox(&srv, &bob, "").await.len(), 1, "replying to oneself notifies nobody");

        let quiet = srv.post(&path, &ann, json!({"body": "fyi", "reply_to": original.id, "notify_reply_author": false})).await;
        assert_eq!(quiet.status, StatusCode::CREATED, "{}", quiet.body);
        assert_eq!(inbox(&srv, &bob, "").await.len(), 1, "the per-reply toggle keeps the author's inbox quiet");

        let edited = srv.patch(&format!("/api/messages/{}", quiet.json::<Message>().id), &ann, json!({"body": "fyi, edited"})).await;
        assert!(edited.status.is_success(), "{}", edited.body);
        assert_eq!(inbox(&srv, &bob, "").await.len(), 1, "an edit of a silent reply does not notify after all");

        let settings = srv.call(Method::PUT, &format!("/api/channels/{general}/notification_settings"), Some(&bob.access_token), Some(json!({"level": "nothing"}))).await;
        assert!(settings.status.is_success(), "{}", settings.body);
        srv.post(&path, &ann, json!({"body": "still there?", "reply_to": original.id})).await.json::<Message>();
        assert_eq!(inbox(&srv, &bob, "").await.len(), 1, "level `nothing` silences replies as it silences mentions");
    }
);

db_test!(
    async fn a_deleted_original_leaves_a_deleted_reference(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let original = send(&srv, &bob, general, "soon gone").await;
        let path = format!("/api/channels/{general}/messages");
        let reply: Message = srv.post(&path, &ann, json!({"body": "answer", "reply_to": original.id})).await.ok();
        assert_eq!(srv.delete(&format!("/api/messages/{}", original.id), &bob).await.status, StatusCode::NO_CONTENT);
        let page = history(&srv, &ann, general, "").await;
        assert_eq!(page.len(), 1, "only the reply is left");
        let reference = page[0].reply_to.clone().expect("the reply keeps its reference");
        assert_eq!(reference.id, original.id);
        assert!(reference.deleted, "the original is gone");
        assert_eq!(reference.excerpt, "", "nothing of a deleted message is shown");
        assert_eq!((page[0].id, reference.author_id), (reply.id, bob.id), "the author is still named");
    }
);

db_test!(
    async fn history_around_an_original_holds_it(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;
        let mut sent = Vec::new();
        for i in 0..30 {
            sent.push(send(&srv, &ann, general, &format!("m{i}")).await);
        }
        let around = history(&srv, &ann, general, &format!("?around={}&limit=10", sent[5].id)).await;
        assert!(around.iter().any(|m| m.id == sent[5].id), "the page holds the message jumped to");
        assert_eq!(around.len(), 10, "a full page");
        assert!(around.windows(2).all(|w| w[0].id > w[1].id), "newest first, as every page");
    }
);

db_test!(
    async fn bad_replies_are_refused_and_store_nothing(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let random = channel_id(&srv, "random").await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&ann]).await;
        let elsewhere = send(&srv, &ann, random, "in random").await;
        let hidden = send(&srv, &ann, secret, "in secret").await;
        let before = message_count(&srv).await;
        let path = format!("/api/channels/{general}/messages");
        for reply_to in [json!(elsewhere.id), json!(hidden.id), json!("123456789")] {
            let err = srv.post(&path, &bob, json!({"body": "hm", "reply_to": reply_to})).await
                .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(err.field.as_deref(), Some("reply_to"), "the field at fault is named");
        }
        srv.post(&path, &bob, json!({"body": "hm", "reply_to": "not-an-id"})).await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.post(&path, &bob, json!({"body": "hm", "reply_to": elsewhere.id, "notify_reply_author": "yes"})).await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        assert_eq!(message_count(&srv).await, before, "no refused reply is stored");
    }
);
