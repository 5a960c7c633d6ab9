//! Glob patterns for event names, URLs and channels: `*` matches any run of
//! characters, `?` one character; everything else matches itself. Matching is
//! case-sensitive, like Segment event names.

/// Whether `text` matches `pattern`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    // `*` only (URL rules such as `*/checkout/*`): the literal pieces in
    // order, found with the standard substring search.
    if !pattern.contains('?')
        && let Some((head, last)) = pattern.rsplit_once('*')
    {
        let Some(body) = text.strip_suffix(last) else { return false };
        let mut pieces = head.split('*');
        let Some(mut rest) = body.strip_prefix(pieces.next().unwrap_or("")) else { return false };
        for piece in pieces.filter(|p| !p.is_empty()) {
            match rest.find(piece) {
                Some(i) => rest = &rest[i + piece.len()..],
                None => return false,
            }
        }
        return true;
    }
    // Iterative matcher with a single backtrack point (linear for `*`-only
    // patterns), on UTF-8 bytes without allocating: `?` and a `*` step take
    // whole characters; literals compare byte by byte (a mismatch inside a
    // character backtracks to the last `*`, which sits on a character boundary).
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let char_len = |i: usize| match t[i] {
        b if b < 0x80 => 1,
        b if b >= 0xF0 => 4,
        b if b >= 0xE0 => 3,
        _ => 2,
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'?' {
            pi += 1;
            ti += char_len(ti);
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            let next = st + char_len(st);
            pi = sp + 1;
            ti = next;
            star = Some((sp, next));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether the pattern is a glob (contains a wildcard) rather than a literal.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    /// The plain character-by-character matcher, as a reference.
    fn reference(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, _) => t.is_empty(),
            (Some('*'), _) => reference(&p[1..], t) || (!t.is_empty() && reference(p, &t[1..])),
            (Some('?'), Some(_)) => reference(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => reference(&p[1..], &t[1..]),
            _ => false,
        }
    }

    fn words(alphabet: &[char], max: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last.iter().flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}"))).collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn agrees_with_the_reference_on_every_short_case() {
        for p in words(&['a', 'é', '*', '?'], 4) {
            let pc: Vec<char> = p.chars().collect();
            for t in words(&['a', 'é', 'b'], 4) {
                let tc: Vec<char> = t.chars().collect();
                assert_eq!(glob_match(&p, &t), reference(&pc, &tc), "pattern {p:?} text {t:?}");
            }
        }
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(glob_match("Order Completed", "Order Completed"));
        assert!(!glob_match("Order Completed", "Order completed"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("Product *", "Product Viewed"));
        assert!(!glob_match("Product *", "Products Searched"));
        assert!(glob_match("*Failed*", "Payment Failed"));
        assert!(glob_match("*/checkout/*", "https://shop.example/checkout/shipping"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*a*b*c", "xxaxxbxxc"));
        assert!(!glob_match("*a*b*c", "xxaxxbxx"));
        assert!(glob_match("ünï*", "ünïcode"));
        assert!(glob_match("?nï?ode", "ünïcode"), "? is one character, not one byte");
        assert!(glob_match("*é", "café"));
        assert!(!glob_match("*é", "cafe"));
        assert!(glob_match("*ï*", "naïve"));
        assert!(!glob_match("a?", "aéé"));
        assert!(glob_match("*?", "é"));
    }
}
