//! Words in customer texts: tokenising, stop words, and the terms that make
//! negative comments different from the rest (for pain points of kind e).

use std::collections::HashMap;

/// Common English words that carry no topic.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "before",
    "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "get", "got", "had", "has",
    "have", "having", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just",
    "me", "more", "most", "my", "no", "nor", "not", "now", "of", "on", "once", "only", "or", "other", "our", "out",
    "over", "own", "really", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was",
    "we", "were", "what", "when", "where", "which", "while", "who", "why", "will", "with", "would", "you", "your",
    "it's", "i'm", "i've", "don't", "didn't", "wasn't", "isn't", "can't", "won't", "us", "one", "even", "still",
    "much", "way", "thing", "things", "time", "ever", "every", "because", "went", "made", "make", "like", "know",
];

/// Lower-case words of at least three letters, without stop words.
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
}

/// Term counts of a set of texts: in how many texts each term occurs.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TermCounts {
    pub texts: u64,
    pub counts: HashMap<String, u64>,
}

impl TermCounts {
    pub fn add(&mut self, text: &str) {
        self.texts += 1;
        let mut seen: Vec<String> = terms(text).collect();
        seen.sort();
        seen.dedup();
        for t in seen {
            *self.counts.entry(t).or_insert(0) += 1;
        }
    }

    pub fn merge(&mut self, o: TermCounts) {
        self.texts += o.texts;
        for (k, v) in o.counts {
            *self.counts.entry(k).or_insert(0) += v;
        }
    }
}

/// Terms frequent in `focus` texts and over-represented compared with `rest`:
/// share of focus texts × ln(1 + smoothed lift); the top `n` with their share of
/// focus texts containing them.
pub fn distinctive(focus: &TermCounts, rest: &TermCounts, n: usize) -> Vec<(String, f64)> {
    if focus.texts == 0 {
        return Vec::new();
    }
    let (nf, nr) = (focus.texts as f64, rest.texts.max(1) as f64);
    let mut scored: Vec<(String, f64, f64)> = focus
        .counts
        .iter()
        .filter(|(_, c)| **c >= 3 || (focus.texts < 30 && **c >= 2))
        .map(|(t, &c)| {
            let r = rest.counts.get(t).copied().unwrap_or(0) as f64;
            let share = c as f64 / nf;
            let lift = ((c as f64 + 0.5) / nf) / ((r + 0.5) / nr);
            (t.clone(), share * (1.0 + lift).ln(), share)
        })
        .filter(|(t, _, share)| {
            let r = rest.counts.get(t).copied().unwrap_or(0) as f64 / nr;
            *share > r
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.into_iter().take(n).map(|(t, _, share)| (t, share)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinctive_terms_of_negative_texts() {
        let mut neg = TermCounts::default();
        let mut rest = TermCounts::default();
        for _ in 0..20 {
            neg.add("The delivery was late again, terrible service");
            neg.add("My delivery arrived late and the box was damaged");
            rest.add("Great tent, fast shipping, love it");
            rest.add("Lovely jacket and quick delivery");
        }
        let top = distinctive(&neg, &rest, 3);
        let names: Vec<&str> = top.iter().map(|(t, _)| t.as_str()).collect();
        assert!(names.contains(&"late"), "{names:?}");
        assert!(!names.contains(&"the"));
        assert_eq!(terms("It's the BEST tent!!").collect::<Vec<_>>(), vec!["best", "tent"]);
    }
}
