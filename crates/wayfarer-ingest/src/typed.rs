//! A typed parse of one Segment track, page or screen message from its
//! text, for NDJSON imports: the fields decoding reads are taken straight
//! from the text (borrowed where no escape needs undoing), everything else
//! (`context.library`, `userAgent`, `ip`, `integrations`…) is checked as
//! JSON and skipped, and the properties become the one object the event
//! keeps. Parsing the whole message into a `serde_json::Value` first, as
//! the general path does, costs several times as much.
//!
//! The parse declines (returns `None`) whenever the text is anything but a
//! well-formed track, page or screen message of the usual shape: invalid
//! JSON, a batch, a flat row, another kind, a field of an unexpected type,
//! clock-skew correction on. The general path then decodes the record and
//! gives the exact error, so both paths agree on every record: the same
//! event or the same error (a test compares them record by record).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use wayfarer_core::{Event, Kind};

#[cfg(test)]
use crate::decode::Limits;
use crate::decode::{Cell, Decoder, FieldError, Message, Role, Traffic};

/// Decodes a line that is one valid Segment track, page or screen
/// message, or `None` to leave it to the general path (see the module's
/// comment; a record with an error is decoded again there, which names
/// the error).
pub fn decode_line(decoder: &Decoder, text: &str) -> Option<Event> {
    if decoder.correct_skew {
        return None;
    }
    let mut msg: Typed<'_> = serde_json::from_str(text).ok()?;
    let kind = Kind::parse(msg.kind.as_ref()?.as_text()?)?;
    if !matches!(kind, Kind::Track | Kind::Page | Kind::Screen) {
        return None;
    }
    decoder.decode_message(&mut msg, kind, decoder.received_at).ok()
}

/// A scalar field: text, or a number, boolean or null as JSON. (An array
/// or object where a scalar is read declines the parse.)
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Json(Value),
}

impl Scalar<'_> {
    fn cell(&self) -> Cell<'_> {
        match self {
            Scalar::Text(s) => Cell::Text(Cow::Borrowed(s)),
            Scalar::Json(v) => Cell::Json(v),
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            Scalar::Text(s) => Some(s),
            Scalar::Json(_) => None,
        }
    }
}

/// The fields of a track, page or screen message that decoding reads.
#[derive(Default)]
struct Typed<'a> {
    kind: Option<Scalar<'a>>,
    user_id: Option<Scalar<'a>>,
    anonymous_id: Option<Scalar<'a>>,
    message_id: Option<Scalar<'a>>,
    received_at: Option<Scalar<'a>>,
    timestamp: Option<Scalar<'a>>,
    original_timestamp: Option<Scalar<'a>>,
    event: Option<Scalar<'a>>,
    /// `name` and `category` (only text is used; anything else is no value).
    name: Option<Cow<'a, str>>,
    category: Option<Cow<'a, str>>,
    properties: Option<Map<String, Value>>,
    context: Option<Context<'a>>,
}

/// What `context` gives: the UTM fields of `campaign` and the URL and
/// referrer of `page` (only text is used).
#[derive(Default)]
struct Context<'a> {
    campaign: Option<[Option<Cow<'a, str>>; 3]>,
    page: Option<[Option<Cow<'a, str>>; 2]>,
}

impl Message for Typed<'_> {
    fn field(&self, key: &str) -> Option<Cell<'_>> {
        let scalar = match key {
            "type" => &self.kind,
            "userId" => &self.user_id,
            "anonymousId" => &self.anonymous_id,
            "messageId" => &self.message_id,
            "receivedAt" => &self.received_at,
            "timestamp" => &self.timestamp,
            "originalTimestamp" => &self.original_timestamp,
            "event" => &self.event,
            "name" => return self.name.as_deref().map(|s| Cell::Text(Cow::Borrowed(s))),
            "category" => return self.category.as_deref().map(|s| Cell::Text(Cow::Borrowed(s))),
            _ => return None,
        };
        scalar.as_ref().map(Scalar::cell)
    }

    fn value(&self, _key: &str) -> Option<Value> {
        None
    }

    fn take_object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, FieldError> {
        Ok(if key == "properties" { self.properties.take() } else { None })
    }

    fn check_context(&self) -> Result<(), FieldError> {
        Ok(())
    }

    fn context_traits(&self) -> Map<String, Value> {
        Map::new()
    }

    fn traffic(&self) -> Result<Traffic, FieldError> {
        let mut t = Traffic::default();
        let text = |s: &Option<Cow<'_, str>>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(c) = &self.context {
            if let Some([source, medium, name]) = &c.campaign {
                (t.source, t.medium, t.campaign) = (text(source), text(medium), text(name));
            }
            if let Some([url, referrer]) = &c.page {
                (t.url, t.referrer) = (text(url), text(referrer));
            }
        }
        Ok(t)
    }
}

impl<'de> serde::Deserialize<'de> for Typed<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Typed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Segment message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Typed<'de>, A::Error> {
        let mut m = Typed::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            // A repeated key keeps its last value, as a JSON object does.
            match key.as_ref() {
                "type" => m.kind = Some(map.next_value_seed(ScalarSeed)?),
                "userId" => m.user_id = Some(map.next_value_seed(ScalarSeed)?),
                "anonymousId" => m.anonymous_id = Some(map.next_value_seed(ScalarSeed)?),
                "messageId" => m.message_id = Some(map.next_value_seed(ScalarSeed)?),
                "receivedAt" => m.received_at = Some(map.next_value_seed(ScalarSeed)?),
                "timestamp" => m.timestamp = Some(map.next_value_seed(ScalarSeed)?),
                "originalTimestamp" => m.original_timestamp = Some(map.next_value_seed(ScalarSeed)?),
                "event" => m.event = Some(map.next_value_seed(ScalarSeed)?),
                "name" => m.name = map.next_value_seed(TEXT)?.text(),
                "category" => m.category = map.next_value_seed(TEXT)?.text(),
                "properties" => m.properties = map.next_value::<Option<Map<String, Value>>>()?,
                "context" => m.context = map.next_value_seed(ContextSeed)?,
                // A batch envelope, or a flat row with a customer column.
                "batch" => return Err(de::Error::custom("not a single message")),
                k if k != "userId" && Role::of(k) == Role::UserId => {
                    return Err(de::Error::custom("a flat row"));
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(m)
    }
}

/// A value read and dropped, checked as strictly as the general path's
/// parse into a JSON value checks it: escapes (a lone surrogate), number
/// range, nesting depth. (serde's `IgnoredAny` checks less, so a line the
/// general path rejects as invalid JSON would be imported.)
struct Skip;

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// An object key, borrowed from the text unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(Key)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

/// Reads a scalar; an array or object is an error (the parse declines).
struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text, a number, a boolean or null")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(s.to_string())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(s)))
    }

    // Numbers as serde_json's own `Value` makes them.
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Json(Value::from(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Json(Value::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Json(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Json(Value::Bool(b)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Json(Value::Null))
    }
}

/// What [`KeepSeed`] kept of a value: text, or an object's text fields of
/// the names asked for; nothing of anything else.
enum Kept<'de, const N: usize> {
    Text(Cow<'de, str>),
    Fields([Option<Cow<'de, str>>; N]),
    Nothing,
}

impl<'de, const N: usize> Kept<'de, N> {
    fn text(self) -> Option<Cow<'de, str>> {
        match self {
            Kept::Text(s) => Some(s),
            _ => None,
        }
    }

    fn fields(self) -> Option<[Option<Cow<'de, str>>; N]> {
        match self {
            Kept::Fields(f) => Some(f),
            _ => None,
        }
    }
}

/// Reads any value, keeping text, or (given names) an object's text fields
/// of those names; anything else is checked as JSON and dropped.
struct KeepSeed<const N: usize>(Option<[&'static str; N]>);

/// Keeps only text.
const TEXT: KeepSeed<0> = KeepSeed(None);

impl<'de, const N: usize> DeserializeSeed<'de> for KeepSeed<N> {
    type Value = Kept<'de, N>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for KeepSeed<N> {
    type Value = Kept<'de, N>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Kept::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Kept::Text(Cow::Owned(s.to_string())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Kept::Text(Cow::Owned(s)))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Kept::Nothing)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Kept::Nothing)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Kept::Nothing)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Kept::Nothing)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Kept::Nothing)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Kept::Nothing)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match self.0 {
            Some(names) => read_fields(names, map).map(Kept::Fields),
            None => {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Kept::Nothing)
            }
        }
    }
}

/// Reads `context`: null is none; anything but an object declines the
/// parse (the general path reports it).
struct ContextSeed;

impl<'de> DeserializeSeed<'de> for ContextSeed {
    type Value = Option<Context<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ContextSeed {
    type Value = Option<Context<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut c = Context::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match key.as_ref() {
                // context.campaign must be an object (not even null).
                "campaign" => c.campaign = Some(map.next_value_seed(FieldsSeed(["source", "medium", "name"]))?),
                // context.page is used only when it is an object.
                "page" => c.page = map.next_value_seed(KeepSeed(Some(["url", "referrer"])))?.fields(),
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(c))
    }
}

/// Reads an object's text fields of the given names; anything but an
/// object declines the parse.
struct FieldsSeed<const N: usize>([&'static str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for FieldsSeed<N> {
    type Value = [Option<Cow<'de, str>>; N];

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for FieldsSeed<N> {
    type Value = [Option<Cow<'de, str>>; N];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        read_fields(self.0, map)
    }
}

fn read_fields<'de, A: MapAccess<'de>, const N: usize>(
    names: [&'static str; N],
    mut map: A,
) -> Result<[Option<Cow<'de, str>>; N], A::Error> {
    let mut out: [Option<Cow<'de, str>>; N] = std::array::from_fn(|_| None);
    while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
        match names.iter().position(|n| *n == key.as_ref()) {
            Some(i) => out[i] = map.next_value_seed(TEXT)?.text(),
            None => {
                map.next_value::<Skip>()?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::derive::ChannelDeriver;

    fn decoder() -> Decoder {
        Decoder::new(ChannelDeriver::default(), 1_796_083_200_000_000)
    }

    /// The general path: the line parsed into a JSON value, then decoded.
    fn general(d: &Decoder, line: &str) -> Option<Result<Event, FieldError>> {
        let v: Value = serde_json::from_str(line).ok()?;
        if v.as_object().is_some_and(crate::segment::is_batch) {
            return None;
        }
        Some(d.decode_json(&v))
    }

    /// Both paths agree: where the typed parse decodes, the general path
    /// gives the same event.
    fn agree(d: &Decoder, line: &str) -> Option<Event> {
        let typed = decode_line(d, line);
        if let Some(e) = &typed {
            match general(d, line) {
                Some(Ok(g)) => assert_eq!(&g, e, "{line}"),
                other => panic!("typed decoded {line} but the general path gives {other:?}"),
            }
        }
        typed
    }

    const PAGE: &str = r#"{"type":"page","messageId":"m1","timestamp":"2026-05-01T06:08:42.369Z","anonymousId":"a1","name":"Blog Post","category":"Blog","context":{"library":{"name":"analytics.js","version":"1"},"page":{"path":"/b","referrer":"https://www.google.com/","url":"https://shop.example/b?utm_source=google&utm_medium=cpc"},"campaign":{"source":"google","medium":"cpc","name":"brand","term":"x"},"userAgent":"Mozilla","ip":"1.2.3.4"},"properties":{"path":"/b","title":"A \"quoted\" title","url":"https://shop.example/b"}}"#;

    #[test]
    fn usual_messages_take_the_typed_path_and_match_the_general_one() {
        let d = decoder();
        let usual = [
            PAGE,
            r#"{"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-05-01T06:08:42Z","properties":{"revenue":"12.50","currency":"EUR","products":[{"sku":"a","price":1.5}]}}"#,
            r#"{"type":"track","event":" Product Viewed ","userId":42,"anonymousId":null,"messageId":7,"originalTimestamp":1767225600,"properties":{"channel":"Email","score":9,"survey":"NPS","comment":"great"}}"#,
            r#"{"type":"screen","name":"Home","userId":"u1","timestamp":"2026-05-01T06:08:42Z","context":null,"properties":null}"#,
            r#"{"type":"track","event":"Signed Up","userId":"u\u00e9","receivedAt":"2026-05-02T00:00:00Z","context":{"page":"not an object","campaign":{"source":5,"name":"  "}},"integrations":{"All":true}}"#,
            r#"{"type":"page","userId":"u1","timestamp":"","name":{"nested":1},"category":["x"],"properties":{"url":"https://e.example/?gclid=1","name":"kept"}}"#,
            r#"{"type":"track","event":"A","userId":"u1","timestamp":"2026-01-01T00:00:00Z","event":"B","properties":{"a":1,"a":2}}"#,
            r#"{"type":"TRACK","event":"A","userId":"u1"}"#,
            "{\"type\":\"track\",\"event\":\"Tab\\tbed\",\"userId\":\"u1\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\r\n",
        ];
        for line in usual {
            assert!(agree(&d, line).is_some(), "the typed path declined {line}");
        }
    }

    #[test]
    fn everything_else_is_left_to_the_general_path() {
        let d = decoder();
        let declined = [
            // Other kinds, batches, flat rows, bad JSON, errors of every kind.
            r#"{"type":"identify","userId":"u1","traits":{"plan":"pro"}}"#,
            r#"{"type":"alias","userId":"u1","previousId":"a1"}"#,
            r#"{"batch":[{"type":"track","event":"A","userId":"u1"}]}"#,
            r#"{"type":"track","event":"A","customer_id":"c1","timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"event":"A","userId":"u1","timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"type":"track","event":"A","userId":"u1""#,
            r#"{"type":"track","event":"A","userId":"u1"} x"#,
            r#"{"type":"track","event":"","userId":"u1"}"#,
            r#"{"type":"track","event":{"a":1},"userId":"u1"}"#,
            r#"{"type":"track","event":"A"}"#,
            r#"{"type":"track","event":"A","userId":["u1"]}"#,
            r#"{"type":"track","event":"A","userId":"u1","timestamp":"yesterday"}"#,
            r#"{"type":"track","event":"A","userId":"u1","context":{"campaign":null}}"#,
            r#"{"type":"track","event":"A","userId":"u1","context":[1]}"#,
            r#"{"type":"track","event":"A","userId":"u1","properties":"{}"}"#,
            r#"{"type":"track","event":"A","userId":"u1","properties":{"revenue":"lots"}}"#,
            r#"{"type":"track","event":"A","userId":"u1","properties":{"survey":"nps","score":11}}"#,
            r#"[{"type":"track","event":"A","userId":"u1"}]"#,
            // Invalid JSON in fields the typed parse does not keep: a lone
            // surrogate, a number out of range, nesting beyond the limit.
            r#"{"type":"track","event":"A","userId":"u1","context":{"userAgent":"x\ud800"}}"#,
            r#"{"type":"track","event":"A","userId":"u1","integrations":{"n":1e400}}"#,
            r#"{"type":"page","userId":"u1","name":["\udc00"]}"#,
        ];
        let deep = format!(
            r#"{{"type":"track","event":"A","userId":"u1","integrations":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(agree(&d, &deep).is_none(), "the typed path decoded 200 nested arrays");
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        for line in declined {
            assert!(agree(&d, line).is_none(), "the typed path decoded {line}");
        }
        // With clock-skew correction (the HTTP server) the typed path is not used.
        let skew = decoder().with_limits(Limits::default(), true);
        assert!(decode_line(&skew, PAGE).is_none());
    }

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("\"\"".to_string()),
            Just("\"  \"".to_string()),
            Just("\"x\\u0041\\\"y\"".to_string()),
            Just("12".to_string()),
            Just("-3.5".to_string()),
            Just("true".to_string()),
            Just("\"2026-03-04T05:06:07Z\"".to_string()),
            Just("1767225600123".to_string()),
            Just("\"https://www.bing.com/search?q=a&utm_source=news&utm_medium=email\"".to_string()),
            Just("{\"a\":[1,{\"b\":null}]}".to_string()),
            Just("[1,2]".to_string()),
            "[a-z]{1,8}".prop_map(|s| format!("\"{s}\"")),
        ]
    }

    proptest! {
        /// Messages assembled from odd values in every field: wherever the
        /// typed path decodes, the general path gives the same event.
        #[test]
        fn typed_and_general_paths_agree(
            kind in prop_oneof![Just("track"), Just("page"), Just("screen"), Just("identify"), Just("x")],
            fields in proptest::collection::vec(
                (prop_oneof![
                    Just("userId"), Just("anonymousId"), Just("messageId"), Just("timestamp"),
                    Just("originalTimestamp"), Just("receivedAt"), Just("sentAt"), Just("event"),
                    Just("name"), Just("category"), Just("extra"), Just("user_id"),
                ], scalar()),
                0..8,
            ),
            props in proptest::collection::vec(
                (prop_oneof![
                    Just("url"), Just("referrer"), Just("channel"), Just("revenue"), Just("total"),
                    Just("value"), Just("survey"), Just("score"), Just("text"), Just("name"), Just("k\\u00e9"),
                ], scalar()),
                0..5,
            ),
            context in prop_oneof![
                Just(String::new()),
                Just(",\"context\":null".to_string()),
                Just(",\"context\":{\"campaign\":{\"source\":\"Facebook\",\"medium\":\"Paid\",\"name\":\"Shop\"}}".to_string()),
                Just(",\"context\":{\"page\":{\"url\":\"https://a.example/?gclid=x\",\"referrer\":\"https://t.co/\"}}".to_string()),
                Just(",\"context\":{\"campaign\":3}".to_string()),
                Just(",\"context\":{\"page\":[{\"url\":\"u\"}],\"traits\":{\"a\":1}}".to_string()),
            ],
        ) {
            let d = decoder();
            let mut line = format!("{{\"type\":\"{kind}\",\"event\":\"Viewed\",\"userId\":\"u1\"");
            for (k, v) in &fields {
                line.push_str(&format!(",\"{k}\":{v}"));
            }
            let props: Vec<String> = props.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            line.push_str(&format!(",\"properties\":{{{}}}{context}}}", props.join(",")));
            agree(&d, &line);
        }
    }
}
