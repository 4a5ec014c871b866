//! Message search: ranking, snippets, filters, the index following edits and deletes,
//! rights inside the query, bad input and the per-user budget.

use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::limits::{SEARCH_QUERY_MAX_CHARS, SEARCH_RESULTS_MAX, SEARCH_TERMS_MAX};
use cromulent_protocol::search::SearchHit;
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};

use crate::db_test;
use crate::dms::dm;
use crate::harness::{Database, TestServer, TestUser};
use crate::messages::{channel_id, make_channel, send};

/// The search answer for `query` (already URL-encoded).
pub async fn search(srv: &TestServer, user: &TestUser, query: &str) -> Vec<SearchHit> {
    srv.get(&format!("/api/search?{query}"), user).await.ok()
}

async fn found(srv: &TestServer, user: &TestUser, query: &str) -> Vec<Id> {
    search(srv, user, query).await.iter().map(|hit| hit.message.id).collect()
}

fn marked(hit: &SearchHit) -> Vec<&str> {
    hit.snippet.iter().filter(|p| p.matched).map(|p| p.text.as_str()).collect()
}

db_test!(
    async fn matches_come_ranked_with_marked_snippets(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let random = channel_id(&srv, "random").await;
        let once = send(&srv, &ann, general, "we could deploy later this week, after the review of the long list of open things").await;
        let thrice = send(&srv, &bob, random, "Deploy the deploy tool, then deploy again").await;
        send(&srv, &bob, general, "nothing to see here").await;

        let hits = search(&srv, &bob, "q=deploy").await;
        let ids: Vec<Id> = hits.iter().map(|h| h.message.id).collect();
        assert_eq!(ids, [thrice.id, once.id], "the message saying it three times ranks first");
        assert!(hits[0].score > hits[1].score, "scores fall with rank: {} then {}", hits[0].score, hits[1].score);
        assert_eq!(hits[0].channel_id, random);
        assert_eq!(hits[0].message.body, thrice.body, "the whole message comes with the hit");
        assert_eq!(marked(&hits[0]), ["Deploy", "deploy", "deploy"]);
        let text: String = hits[1].snippet.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(text, once.body, "a short body is its own snippet");

        assert_eq!(found(&srv, &bob, "q=DEPL").await, [thrice.id, once.id], "a word matches the words it begins, in any case");
        assert_eq!(found(&srv, &bob, "q=deploy%20review").await, [once.id], "every word must match");
        assert!(found(&srv, &bob, "q=ploy").await.is_empty(), "only the start of a word matches");
        assert_eq!(found(&srv, &bob, "q=deploy&limit=1").await, [thrice.id], "limit keeps the best");
    }
);

db_test!(
    async fn filters_narrow_the_matches(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let random = channel_id(&srv, "random").await;
        let first = send(&srv, &ann, general, "release notes are out").await;
        let link = send(&srv, &bob, general, "release notes: HTTPS://example.com/notes").await;
        let elsewhere = send(&srv, &bob, random, "release party tonight").await;

        assert_eq!(found(&srv, &ann, &format!("q=release&channel_id={random}")).await, [elsewhere.id]);
        assert_eq!(found(&srv, &ann, &format!("q=release&author_id={}", ann.id)).await, [first.id]);
        assert_eq!(found(&srv, &ann, "q=release&has=link").await, [link.id], "an http(s) address is a link");
        assert!(
            found(&srv, &ann, "q=release&has=attachment").await.is_empty(),
            "plain messages carry no attachment"
        );
        cromulent_server::store::messages::mark_has_attachment(srv.state.db.pool(), first.id).await.expect("mark");
        assert_eq!(found(&srv, &ann, "q=release&has=attachment").await, [first.id], "the attachment flag is what has=attachment reads");

        // Times far apart, so sends within one millisecond do not blur the bounds.
        for (message, at) in [(&first, 1_000_i64), (&link, 2_000), (&elsewhere, 3_000)] {
            sqlx::query("UPDATE messages SET created_at = $1 WHERE id = $2")
                .bind(at)
                .bind(message.id.0)
                .execute(srv.state.db.pool())
                .await
                .expect("set time");
        }
        let sorted = |mut ids: Vec<Id>| {
            ids.sort();
            ids
        };
        assert_eq!(sorted(found(&srv, &ann, "q=release&after=1000").await), [link.id, elsewhere.id], "after is exclusive");
        assert_eq!(found(&srv, &ann, "q=release&before=2000").await, [first.id], "before is exclusive");
        assert_eq!(found(&srv, &ann, "q=release&after=1000&before=3000").await, [link.id]);

        // Editing in a link sets the flag; editing it out clears it.
        srv.patch(&format!("/api/messages/{}", elsewhere.id), &bob, serde_json::json!({"body": "release party: http://party.example"})).await.ok::<serde_json::Value>();
        assert!(found(&srv, &ann, "q=release&has=link").await.contains(&elsewhere.id));
        srv.patch(&format!("/api/messages/{}", link.id), &bob, serde_json::json!({"body": "release notes moved"})).await.ok::<serde_json::Value>();
        assert!(!found(&srv, &ann, "q=release&has=link").await.contains(&link.id));
    }
);

db_test!(
    async fn the_index_follows_edits_and_deletes(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;
        let message = send(&srv, &ann, general, "the meeting is on tuesday").await;
        assert_eq!(found(&srv, &ann, "q=tuesday").await, [message.id]);

        let reply = srv.patch(&format!("/api/messages/{}", message.id), &ann, serde_json::json!({"body": "the meeting is on wednesday"})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(found(&srv, &ann, "q=tuesday").await.is_empty(), "the old word is gone with the edit");
        let hits = search(&srv, &ann, "q=wednesday").await;
        assert_eq!(hits.iter().map(|h| h.message.id).collect::<Vec<_>>(), [message.id], "the new word is found");
        assert_eq!(hits[0].message.body, "the meeting is on wednesday");
        assert!(hits[0].message.edited_at.is_some());

        assert_eq!(srv.delete(&format!("/api/messages/{}", message.id), &ann).await.status, StatusCode::NO_CONTENT);
        assert!(found(&srv, &ann, "q=meeting").await.is_empty(), "a deleted message is not found");
        let fresh = send(&srv, &ann, general, "another meeting").await;
        assert_eq!(found(&srv, &ann, "q=meeting").await, [fresh.id], "the index keeps working after a delete");
    }
);

db_test!(
    async fn search_never_shows_what_the_caller_may_not_read(srv) {
        let ann = srv.user("ann").await; // admin
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let eve = srv.user("eve").await;
        let general = channel_id(&srv, "general").await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&bob, &eve]).await;
        let public = send(&srv, &bob, general, "zebra in the open").await;
        let private = send(&srv, &bob, secret, "zebra in the secret room").await;
        let conversation = dm(&srv, &bob, &[&carol]).await;
        let direct = send(&srv, &bob, conversation.channel.id, "zebra between us").await;

        let mut bob_sees = found(&srv, &bob, "q=zebra").await;
        bob_sees.sort();
        assert_eq!(bob_sees, [public.id, private.id, direct.id], "bob reads all three");
        let mut carol_sees = found(&srv, &carol, "q=zebra").await;
        carol_sees.sort();
        assert_eq!(carol_sees, [public.id, direct.id], "carol is not in the private channel");
        let mut ann_sees = found(&srv, &ann, "q=zebra").await;
        ann_sees.sort();
        assert_eq!(ann_sees, [public.id, private.id], "an admin sees private channels but no one else's direct messages");
        let mut eve_sees = found(&srv, &eve, "q=zebra").await;
        eve_sees.sort();
        assert_eq!(eve_sees, [public.id, private.id]);

        // Removed from the private channel, eve finds nothing of it any more.
        let removed = srv.delete(&format!("/api/channels/{secret}/members/{}", eve.id), &ann).await;
        assert!(removed.status.is_success(), "{}", removed.body);
        assert_eq!(found(&srv, &eve, "q=zebra").await, [public.id], "removal hides the channel's messages from search");

        // Naming a channel one may not read answers as if it did not exist.
        srv.get(&format!("/api/search?q=zebra&channel_id={secret}"), &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        let dm_channel = conversation.channel.id;
        srv.get(&format!("/api/search?q=zebra&channel_id={dm_channel}"), &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.get(&format!("/api/search?q=zebra&channel_id={dm_channel}"), &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.get("/api/search?q=zebra&channel_id=424242", &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert!(found(&srv, &eve, &format!("q=zebra&author_id={}", bob.id)).await == [public.id], "an author filter does not widen rights");
        srv.anonymous(Method::GET, "/api/search?q=zebra", None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn bad_searches_are_refused(srv) {
        let ann = srv.user("ann").await;
        let invalid = |field: &'static str| move |reply: crate::harness::Reply| {
            let error = reply.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(error.field.as_deref(), Some(field), "{error:?}");
        };
        invalid("q")(srv.get("/api/search?q=", &ann).await);
        invalid("q")(srv.get("/api/search?q=%20-%20!", &ann).await);
        invalid("q")(srv.get(&format!("/api/search?q={}", "a".repeat(SEARCH_QUERY_MAX_CHARS + 1)), &ann).await);
        let many: Vec<String> = (0..=SEARCH_TERMS_MAX).map(|i| format!("w{i}")).collect();
        invalid("q")(srv.get(&format!("/api/search?q={}", many.join("+")), &ann).await);
        invalid("limit")(srv.get("/api/search?q=a&limit=0", &ann).await);
        invalid("limit")(srv.get(&format!("/api/search?q=a&limit={}", SEARCH_RESULTS_MAX + 1), &ann).await);
        srv.get("/api/search", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.get("/api/search?q=a&has=pictures", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.get("/api/search?q=a&before=yesterday", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.get("/api/search?q=a&author_id=bob", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_have_a_per_user_budget() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.limits.searches_per_user_per_minute = 2).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    assert!(search(&srv, &ann, "q=a").await.is_empty());
    assert!(search(&srv, &ann, "q=a").await.is_empty());
    let refused = srv.get("/api/search?q=a", &ann).await;
    refused.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    assert!(search(&srv, &bob, "q=a").await.is_empty(), "each user has their own budget");
}
