//! Answers that come from the layers around a handler rather than from the handler:
//! the JSON body extractor, the path and query extractors, the login check and the
//! write budgets. Each applies to every operation of its kind, so they are added here
//! once instead of being repeated (and forgotten) in every annotation.

use serde_json::{json, Map, Value};

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

pub fn add(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else { continue };
            for (status, description) in statuses(method, operation) {
                add_response(operation, status, description);
            }
        }
    }
}

/// The statuses an operation of this shape can answer besides its own.
fn statuses(method: &str, operation: &Map<String, Value>) -> Vec<(&'static str, &'static str)> {
    let mut statuses = Vec::new();
    let has_body = operation.contains_key("requestBody");
    let has_parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|parameters| !parameters.is_empty());
    if has_body || has_parameters {
        statuses.push(("400", "malformed request: a body that is not a JSON object, or a bad id or query"));
    }
    if has_body {
        statuses.push(("413", "the body is larger than the server reads"));
        statuses.push(("415", "the body is not sent as application/json"));
    }
    if operation.contains_key("security") {
        statuses.push(("401", "no login, or one that has expired or ended"));
    }
    if method != "get" {
        statuses.push((
            "429",
            "too many writes from this address or account (HTTP_WRITES_PER_IP_PER_MINUTE, \
             HTTP_WRITES_PER_USER_PER_MINUTE); wait for Retry-After",
        ));
    }
    statuses
}

pub(super) fn add_response(operation: &mut Map<String, Value>, status: &str, description: &str) {
    let responses = operation.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    responses.entry(status).or_insert_with(|| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ApiError" } } }
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(operation: Value) -> Value {
        json!({ "paths": { "/api/things": { "post": operation } } })
    }

    fn statuses_of(document: &Value) -> Vec<String> {
        document["paths"]["/api/things"]["post"]["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn a_secured_write_with_a_body_gets_every_layer_answer() {
        let mut doc = document(json!({
            "requestBody": {}, "security": [{"bearer": []}],
            "responses": { "201": { "description": "created" } }
        }));
        add(&mut doc);
        assert_eq!(statuses_of(&doc), ["201", "400", "401", "413", "415", "429"]);
    }

    #[test]
    fn what_a_handler_documents_itself_is_kept() {
        let mut doc = document(json!({
            "requestBody": {},
            "responses": { "400": { "description": "the handler's own words" } }
        }));
        add(&mut doc);
        assert_eq!(
            doc["paths"]["/api/things"]["post"]["responses"]["400"]["description"],
            "the handler's own words"
        );
        assert!(!statuses_of(&doc).contains(&"401".to_owned()), "an open operation needs no login");
    }
}
