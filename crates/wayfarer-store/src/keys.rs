//! The property and trait names the data holds: the top-level keys of the
//! events' `properties` objects (of identify calls: traits), kept in the
//! manifest so a condition, breakdown or split naming a property that never
//! occurs is an error, not an empty answer. Keys are found by a scan of the
//! stored JSON text that skips values without parsing them, so recording
//! them costs little next to writing the segment.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Property names (of track, page and screen events) and trait names (of
/// identify calls) seen in the data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Keys {
    pub properties: BTreeSet<String>,
    pub traits: BTreeSet<String>,
}

impl Keys {
    /// Records the keys of one event's properties.
    pub fn add(&mut self, identify: bool, properties: &str) {
        if properties.len() <= 2 {
            return;
        }
        let set = if identify { &mut self.traits } else { &mut self.properties };
        top_level_keys(properties, |k| {
            if !set.contains(k) {
                set.insert(k.to_string());
            }
        });
    }

    pub fn extend(&mut self, other: Keys) {
        self.properties.extend(other.properties);
        self.traits.extend(other.traits);
    }
}

/// Calls `f` with each key of a JSON object's top level. Text that is not
/// an object yields nothing; a key with escapes is unescaped.
pub fn top_level_keys(json: &str, mut f: impl FnMut(&str)) {
    let b = json.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if b.get(i) != Some(&b'{') {
        return;
    }
    i += 1;
    let mut depth = 1usize;
    // At depth 1, whether the next string is a key (after '{' or ',').
    let mut expect_key = true;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                let mut escaped = false;
                i += 1;
                // Jump to the next quote or backslash (values can be long).
                loop {
                    match memchr::memchr2(b'"', b'\\', &b[i.min(b.len())..]) {
                        Some(k) if b[i + k] == b'"' => {
                            i += k;
                            break;
                        }
                        Some(k) => {
                            escaped = true;
                            i += k + 2;
                        }
                        None => {
                            i = b.len();
                            break;
                        }
                    }
                }
                if depth == 1 && expect_key && i <= b.len() {
                    let raw = &json[start..i.min(b.len())];
                    if escaped {
                        if let Ok(k) = serde_json::from_str::<String>(&json[start - 1..(i + 1).min(b.len())]) {
                            f(&k);
                        }
                    } else {
                        f(raw);
                    }
                    expect_key = false;
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            b',' if depth == 1 => expect_key = true,
            _ => {}
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        top_level_keys(s, |k| out.push(k.to_string()));
        out
    }

    #[test]
    fn finds_top_level_keys_only() {
        assert_eq!(
            keys(r#"{"a":1,"b":{"c":[1,{"d":2}],"e":"x,\"y\":"},"f\"g":null, "h" : "}"}"#),
            ["a", "b", "f\"g", "h"]
        );
        assert!(keys("[1,2]").is_empty());
        assert!(keys("{}").is_empty());
        assert!(keys("").is_empty());
        assert_eq!(keys(r#"{"a":"unterminated"#), ["a"]);
    }

    #[test]
    fn agrees_with_a_parser_on_random_objects() {
        // Objects serde_json writes, with nesting and awkward strings.
        let mut seed = 7u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let atoms = ["x", "a\"b", "{", "}", ",", "[1]", "é", "\\"];
        for _ in 0..500 {
            let mut obj = serde_json::Map::new();
            for _ in 0..(next() % 6) {
                let k = atoms[(next() % 8) as usize].repeat((next() % 3 + 1) as usize);
                let v = match next() % 4 {
                    0 => serde_json::json!(atoms[(next() % 8) as usize]),
                    1 => serde_json::json!({ "in": [atoms[(next() % 8) as usize], {"deep": 1}] }),
                    2 => serde_json::json!(next() % 100),
                    _ => serde_json::Value::Null,
                };
                obj.insert(k, v);
            }
            let text = serde_json::Value::Object(obj.clone()).to_string();
            let want: Vec<String> = obj.keys().cloned().collect();
            let mut got = keys(&text);
            got.sort();
            let mut want = want;
            want.sort();
            assert_eq!(got, want, "{text}");
        }
    }
}
