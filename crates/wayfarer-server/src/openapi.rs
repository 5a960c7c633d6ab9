//! `/api/openapi.json`: an OpenAPI 3.1 description generated from the code
//! — the ingestion endpoints from their definitions here, every query
//! endpoint from the CLI's own flag definitions (names, help, required,
//! repeated, allowed values, defaults), so the document cannot drift from
//! what the server accepts.

use serde_json::{Map, Value, json};
use wayfarer_core::ErrorCode;

use crate::ingest::{BATCH_LIMIT, MESSAGE_LIMIT};
use crate::query::{ParamKind, QueryCommand, QueryParam};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The JSON Schema of a parameter's value (what OpenAPI and the MCP
/// tools' input schemas say).
pub fn param_schema(p: &QueryParam) -> Value {
    let mut schema = match p.kind {
        ParamKind::Switch => json!({"type": "boolean"}),
        _ if !p.values.is_empty() => json!({"type": "string", "enum": p.values}),
        ParamKind::Integer => json!({"type": "integer"}),
        ParamKind::Number => json!({"type": "number"}),
        ParamKind::Date => json!({"type": "string", "description": "A date (2026-05-01) or date-time"}),
        ParamKind::Text | ParamKind::Event => json!({"type": "string"}),
    };
    if let Some(d) = &p.default {
        schema["default"] = match p.kind {
            ParamKind::Switch => json!(d == "true"),
            ParamKind::Integer | ParamKind::Number if d.parse::<f64>().is_ok() => {
                json!(d.parse::<f64>().unwrap_or_default())
            }
            _ => json!(d),
        };
    }
    if p.repeated {
        schema = json!({"type": "array", "items": schema});
    }
    schema
}

fn param(p: &QueryParam) -> Value {
    let schema = param_schema(p);
    json!({
        "name": p.name, "in": "query", "required": p.required, "description": p.help,
        "schema": schema, "style": "form", "explode": true,
    })
}

/// The whole document.
pub fn document(commands: &[QueryCommand]) -> Value {
    let mut paths = Map::new();
    let ingest_kinds = [
        ("track", "Record an action (Segment `track`)."),
        ("identify", "Tie a user to their traits (Segment `identify`)."),
        ("page", "Record a page view (Segment `page`)."),
        ("screen", "Record an app screen view (Segment `screen`)."),
        ("group", "Associate a user with a group (Segment `group`)."),
        ("alias", "Merge two identities (Segment `alias`)."),
        ("batch", "Several messages: `{\"batch\": [...]}`; accepted in part."),
        ("import", "The same as /v1/batch."),
    ];
    for (kind, summary) in ingest_kinds {
        let limit = if matches!(kind, "batch" | "import") { BATCH_LIMIT } else { MESSAGE_LIMIT };
        paths.insert(
            format!("/v1/{kind}"),
            json!({"post": {
                "summary": summary,
                "tags": ["ingestion"],
                "security": [{"writeKey": []}],
                "description": format!(
                    "A Segment-spec payload, unchanged; gzip bodies accepted (Content-Encoding: gzip). \
                     At most {} KB per request and {} KB per message. Answered only after the events are durable.",
                    limit / 1024, MESSAGE_LIMIT / 1024),
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": {"description": "Durable. `rejected` lists invalid messages of a batch by index.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
                    "400": error_response("Invalid JSON, or no valid message."),
                    "401": error_response("No write key, or an unknown or revoked one."),
                    "403": error_response("A read token was sent."),
                    "413": error_response("Over Segment's size limits."),
                    "503": error_response("The events could not be made durable; nothing was stored."),
                }
            }}),
        );
    }
    for c in commands {
        paths.insert(
            format!("/api/{}", c.name),
            json!({"get": {
                "summary": c.summary,
                "tags": ["queries"],
                "security": [{"readToken": []}],
                "description": format!("The JSON of `wayfarer {} --json`; parameters are its flags.", c.name),
                "parameters": c.params.iter().map(param).collect::<Vec<_>>(),
                "responses": {
                    "200": {"description": "The report.", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": error_response("An invalid parameter."),
                    "401": error_response("No read token, or an unknown or revoked one."),
                    "403": error_response("A write key was sent."),
                    "504": error_response("The query took too long."),
                }
            }}),
        );
    }
    paths.insert(
        "/api/customers/{id}".into(),
        json!({"get": {
            "summary": "One customer: identities, traits, current stage, persona, purchases and timeline.",
            "tags": ["queries"],
            "security": [{"readToken": []}],
            "parameters": [{"name": "id", "in": "path", "required": true, "description": "A user id or anonymous id.",
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The profile.", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "404": error_response("No such customer.")}
        }}),
    );
    paths.insert(
        "/api/sql".into(),
        json!({"post": {
            "summary": "A read-only SQL query over the table `events` (Apache DataFusion; builds with the `sql` feature).",
            "tags": ["queries"],
            "security": [{"readToken": []}],
            "requestBody": {"required": true, "content": {
                "application/json": {"schema": {"type": "object", "required": ["sql"], "properties": {
                    "sql": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": crate::sql::MAX_ROWS, "default": crate::sql::DEFAULT_ROWS}}}},
                "text/plain": {"schema": {"type": "string"}}}},
            "responses": {
                "200": {"description": "`columns`, `rows`, `row_limit`, `truncated`.",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": error_response("Invalid SQL, or not read-only."),
                "404": error_response("This build has no SQL, or there are no events yet."),
                "504": error_response("The query took too long."),
            }
        }}),
    );
    let name_param = json!([{"name": "name", "in": "path", "required": true,
                             "description": "The segment's name (case does not matter).", "schema": {"type": "string"}}]);
    let ok = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"type": "object"}}}});
    paths.insert(
        "/api/segments".into(),
        json!({
            "get": {"summary": "Saved segments with their sizes.", "tags": ["segments"], "security": [{"readToken": []}],
                    "responses": {"200": ok("`[{name, condition, description, created_at, updated_at, customers}]`")}},
            "post": {"summary": "Save a segment (an admin token): its condition is checked against the data first.",
                     "tags": ["segments"], "security": [{"adminToken": []}],
                     "requestBody": {"required": true, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["name", "condition"], "additionalProperties": false,
                         "properties": {"name": {"type": "string"}, "condition": {"type": "string"},
                                        "description": {"type": "string"}, "replace": {"type": "boolean", "default": false}}}}}},
                     "responses": {"200": ok("The segment and its size."),
                                   "400": error_response("A bad name or condition (the message names the column), or the name is taken."),
                                   "403": error_response("Not an admin token.")}}
        }),
    );
    paths.insert(
        "/api/segments/{name}".into(),
        json!({
            "get": {"summary": "One segment: definition, size, share, stages, reachable members.", "tags": ["segments"],
                    "security": [{"readToken": []}], "parameters": name_param,
                    "responses": {"200": ok("The segment."), "404": error_response("No such segment; the message lists them.")}},
            "delete": {"summary": "Delete a segment (an admin token).", "tags": ["segments"],
                       "security": [{"adminToken": []}], "parameters": name_param,
                       "responses": {"200": ok("`{deleted}`"), "403": error_response("Not an admin token."),
                                     "404": error_response("No such segment.")}}
        }),
    );
    paths.insert(
        "/api/segments/{name}/members".into(),
        json!({"get": {"summary": "A segment's members: id, stage, events, first and last seen, email, phone.",
                       "tags": ["segments"], "security": [{"readToken": []}], "parameters": name_param,
                       "responses": {"200": ok("`[{customer_id, stage, events, first_seen, last_seen, email, phone}]`"),
                                     "404": error_response("No such segment.")}}}),
    );
    paths.insert(
        "/api/profiles/{id}".into(),
        json!({"get": {
            "summary": "A customer for personalisation, by any identity: identities, traits, current stage and when it was entered, persona, segments, first and last seen.",
            "description": "Served from an in-memory index rebuilt after each commit; `generation` says which.",
            "tags": ["profiles"],
            "security": [{"profileKey": []}, {"readToken": []}],
            "parameters": [{"name": "id", "in": "path", "required": true, "description": "A user id, anonymous id or alias.",
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The profile.", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "403": error_response("A write key."),
                          "404": error_response("No customer has this id."),
                          "503": error_response("The first index is still being built.")}
        }}),
    );
    paths.insert(
        "/api/openapi.json".into(),
        json!({"get": {"summary": "This document.", "tags": ["meta"], "security": [{"readToken": []}],
                       "responses": {"200": {"description": "OpenAPI 3.1"}}}}),
    );
    paths.insert(
        "/healthz".into(),
        json!({"get": {"summary": "Liveness; no key needed.", "tags": ["meta"], "security": [],
                       "responses": {"200": {"description": "{\"status\": \"ok\"}"}}}}),
    );
    paths.insert(
        "/metrics".into(),
        json!({"get": {"summary": "Prometheus metrics: events ingested and rejected, fsync and query latency.",
                       "tags": ["meta"], "security": [{"readToken": []}],
                       "responses": {"200": {"description": "Prometheus text format"}}}}),
    );
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Wayfarer", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Segment-compatible ingestion and the journey analyses of Wayfarer."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "writeKey": {"type": "http", "scheme": "basic",
                             "description": "The write key as the user name, empty password (as Segment's libraries send it); or a `writeKey` field in the body."},
                "readToken": {"type": "http", "scheme": "bearer", "description": "A read token (or an admin token)."},
                "profileKey": {"type": "http", "scheme": "bearer",
                               "description": "A profile key (`wayfarer keys create --profile`): profiles and nothing else."},
                "adminToken": {"type": "http", "scheme": "bearer",
                               "description": "An admin token (`wayfarer keys create --admin`): needed to change segments."},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message", "hint"], "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string"},
                    "hint": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object"}},
                }},
                "Accepted": {"type": "object", "required": ["success"], "properties": {
                    "success": {"type": "boolean"},
                    "accepted": {"type": "integer"},
                    "rejected": {"type": "array", "items": {"type": "object", "properties": {
                        "index": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"}}}},
                }},
            },
        },
    })
}
