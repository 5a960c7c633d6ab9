//! Numbers as people read them, the same in every report: counts with
//! thousands separators ("2,575") and counted nouns ("1 customer",
//! "2,575 customers").

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` and the noun, singular for one ("1 customer", "0 customers",
/// "1,024 sessions"); the plural adds an s.
pub fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if let Some(stem) = noun.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'o', 'u'])) {
        format!("{} {stem}ies", count(n))
    } else {
        format!("{} {noun}s", count(n))
    }
}

/// What a capped list shows: "" when it shows everything, else
/// " (50 of 2,575)" — appended to the list's heading.
pub fn shown(shown: usize, total: usize) -> String {
    if shown >= total { String::new() } else { format!(" ({} of {})", count(shown as u64), count(total as u64)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_words() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(2575), "2,575");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(counted(1, "customer"), "1 customer");
        assert_eq!(counted(0, "customer"), "0 customers");
        assert_eq!(counted(12_000, "event"), "12,000 events");
        assert_eq!(shown(50, 2575), " (50 of 2,575)");
        assert_eq!(shown(5, 5), "");
    }
}
