//! One refusal, two edges: a gateway op refused for the same reason as a REST request
//! answers with the same typed code and message in its `error` frame (the status is
//! HTTP's alone).

use cromulent_protocol::channel::ChannelKind;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::StatusCode;
use serde_json::json;

use crate::db_test;
use crate::gateway::{channel_id, make_channel};
use crate::gateway_client::{Gw, WAIT};

/// The code and message of the next `error` frame, which must name `op`.
async fn frame_error(gw: &mut Gw, op: &str) -> (ErrorCode, String) {
    match gw.wait_for_control(|f| matches!(f, ControlFrame::Error { .. }), WAIT).await {
        ControlFrame::Error { op: got, code, message } => {
            assert_eq!(got, op, "the error names the op that failed");
            (code, message)
        }
        _ => unreachable!("filtered above"),
    }
}

db_test! {
    async fn gateway_error_frames_carry_the_code_rest_gives(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let hidden = make_channel(&srv, "hidden", ChannelKind::Text, true, &[ann.id]).await;
        let voice = make_channel(&srv, "voice", ChannelKind::Voice, false, &[bob.id]).await;
        let mut b = srv.connect(&bob).await;
        let general = channel_id(&b, "general");
        srv.post(&format!("/api/channels/{general}/leave"), &bob, json!({})).await.ok::<serde_json::Value>();

        let cases: [(Id, StatusCode, ErrorCode, &str); 3] = [
            (general, StatusCode::FORBIDDEN, ErrorCode::Forbidden, "bob left general"),
            (voice, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed, "voice carries no text"),
            (hidden, StatusCode::NOT_FOUND, ErrorCode::NotFound, "a private channel bob is not in stays hidden"),
        ];
        for (channel, status, code, why) in cases {
            let rest = srv.post(&format!("/api/channels/{channel}/messages"), &bob, json!({"body": "hi"})).await;
            let rest = rest.error(status, code);
            b.send(ClientFrame::TypingStart { channel_id: channel }).await;
            let frame = frame_error(&mut b, "typing_start").await;
            assert_eq!(frame, (rest.code, rest.message), "{why}: the gateway refuses as REST does");
        }
    }
}
