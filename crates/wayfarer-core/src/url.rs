//! Percent-encoding of URL parts: decoding UTM parameters and path
//! segments, encoding the dashboard's query strings and links.

/// Decodes `%XX` escapes; with `plus_is_space` (query strings) `+` is a
/// space, otherwise (paths) it is itself. A `%` not followed by two hex
/// digits is kept literally; invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |k: usize| bytes.get(k).and_then(|&h| char::from(h).to_digit(16));
        match b {
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                out.push((hex(i + 1).unwrap_or(0) * 16 + hex(i + 2).unwrap_or(0)) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes everything but unreserved characters; with `space_is_plus`
/// (query strings) a space is `+`, otherwise (paths) `%20`.
pub fn percent_encode(s: &str, space_is_plus: bool) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => o.push(b as char),
            b' ' if space_is_plus => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("spring%20sale+x", true), "spring sale x");
        assert_eq!(percent_decode("a+b%2Bc", false), "a+b+c");
        assert_eq!(percent_decode("100%", true), "100%");
        assert_eq!(percent_decode("%aé", false), "%aé");
        assert_eq!(percent_decode("%+1", false), "%+1");
    }

    #[test]
    fn encoding_round_trips() {
        for s in ["Order Completed[revenue > 100]", "a&b=c/é", "Ana Lopez+1"] {
            assert_eq!(percent_decode(&percent_encode(s, true), true), s);
            assert_eq!(percent_decode(&percent_encode(s, false), false), s);
        }
        assert_eq!(percent_encode("a b", true), "a+b");
        assert_eq!(percent_encode("a b", false), "a%20b");
    }
}
