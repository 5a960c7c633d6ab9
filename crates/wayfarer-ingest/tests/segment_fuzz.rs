//! Property-based fuzzing of the Segment protocol decoder (cargo-fuzz needs
//! a nightly toolchain; this runs on stable, in every test run): for any
//! bytes and for any JSON shaped like Segment messages, decoding never
//! panics, answers with a 4xx error code or with events, and accounts for
//! every message of a batch exactly once.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use wayfarer_core::Kind;
use wayfarer_ingest::Decoder;
use wayfarer_ingest::derive::ChannelDeriver;
use wayfarer_ingest::segment::{Envelope, Refused, Rejected, decode_messages};

fn decoder() -> Decoder {
    Decoder::new(ChannelDeriver::default(), 1_767_225_600_000_000)
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("2026-05-01T10:00:00Z"), Just("1767225600"), Just("not a time"), Just("")]
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A Segment-like message: the usual keys, each present or not, with any value.
fn message() -> impl Strategy<Value = Value> {
    let keys = [
        "type",
        "userId",
        "anonymousId",
        "event",
        "messageId",
        "timestamp",
        "properties",
        "traits",
        "context",
        "previousId",
        "groupId",
        "name",
        "receivedAt",
        "originalTimestamp",
    ];
    let typed = prop_oneof![
        Just(json!("track")),
        Just(json!("identify")),
        Just(json!("page")),
        Just(json!("screen")),
        Just(json!("group")),
        Just(json!("alias")),
        any_json(),
    ];
    (typed, prop::collection::vec((0..keys.len(), any_json()), 0..10), any::<bool>()).prop_map(
        move |(t, fields, with_type)| {
            let mut m = Map::new();
            if with_type {
                m.insert("type".into(), t);
            }
            for (k, v) in fields {
                m.insert(keys[k].into(), v);
            }
            Value::Object(m)
        },
    )
}

/// A request body as the server parses it: one JSON object.
fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(obj)) => Some(obj),
        _ => None,
    }
}

fn check(result: Result<(Vec<wayfarer_core::Event>, Vec<Rejected>), Refused>, messages: usize) {
    match result {
        Ok((events, rejected)) => {
            assert!(!events.is_empty());
            assert_eq!(events.len() + rejected.len(), messages, "every message accounted for once");
            for e in &events {
                assert!(e.user_id.is_some() || e.anonymous_id.is_some());
                assert!(!e.event_id.is_empty() && !e.event.is_empty());
            }
        }
        Err(e) => {
            assert!((400..500).contains(&e.code.http_status()), "{:?}", e.code);
            assert!(e.rejected.is_empty() || e.rejected.len() == messages, "every message accounted for once");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Some(obj) = parse_object(&bytes) {
            let messages = obj.get("batch").and_then(Value::as_array).map_or(0, Vec::len);
            check(decode_messages(&decoder(), Envelope::Batch, obj, 0), messages);
        }
    }

    #[test]
    fn segment_like_batches(msgs in prop::collection::vec(message(), 0..8), context in any_json()) {
        let mut obj = Map::new();
        obj.insert("batch".into(), Value::Array(msgs.clone()));
        obj.insert("context".into(), context);
        let bytes = serde_json::to_vec(&obj).unwrap();
        let parsed = parse_object(&bytes).unwrap();
        check(decode_messages(&decoder(), Envelope::Batch, parsed, 0), msgs.len());
    }

    #[test]
    fn single_messages(msg in message(), kind in prop::sample::select(Kind::ALL.to_vec())) {
        let Value::Object(obj) = msg else { unreachable!() };
        check(decode_messages(&decoder(), Envelope::Single(kind), obj, 0), 1);
    }
}
