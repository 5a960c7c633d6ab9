//! "Did you mean …?": the closest known name to a misspelled one, so an
//! error can name both.

/// Edit distance (Damerau–Levenshtein, optimal string alignment) between
/// two strings, compared case-insensitively.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// The known name closest to `name`, if it is close enough to be a likely
/// typo (a third of the name's length in edits, at least one, at most
/// four), or equal to it ignoring case. Ties go to the first candidate.
pub fn closest<'a, I, S>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    let limit = (name.chars().count() / 3).clamp(1, 4);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let c = c.as_ref();
        let d = if c.eq_ignore_ascii_case(name) { 0 } else { distance(name, c) };
        let near = d <= limit || (name.chars().count() >= 4 && c.to_lowercase().starts_with(&name.to_lowercase()));
        if near && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `; did you mean 'X'?` when a close name exists, else nothing: appended
/// to an error that names the unknown thing.
pub fn hint<'a, I, S>(name: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    closest(name, candidates).map_or_else(String::new, |c| format!("; did you mean '{c}'?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("chanel", "channel"), 1);
        assert_eq!(distance("Faild", "Failed"), 1);
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn closest_names() {
        let events = ["Product Viewed", "Order Completed", "Payment Failed"];
        assert_eq!(closest("Product Viewd", &events), Some("Product Viewed"));
        assert_eq!(closest("payment failed", &events), Some("Payment Failed"));
        assert_eq!(closest("Signed Up", &events), None);
        assert_eq!(closest("first_chanel", &["first_channel", "orders"]), Some("first_channel"));
        assert_eq!(hint("purchse", &["purchase"]), "; did you mean 'purchase'?");
        assert_eq!(hint("zzz", &["purchase"]), "");
    }
}
