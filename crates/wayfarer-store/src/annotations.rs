//! Dated annotations ("2026-08-01: checkout redesigned"), kept in
//! `DIR/annotations.json` and replaced atomically on every change: what a
//! map comparison can be centred on (`wayfarer map --around`), and the
//! markers of trend charts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::manifest::write_atomic;

pub const FILE: &str = "annotations.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: u64,
    /// When it happened, RFC 3339 (UTC).
    pub at: String,
    pub text: String,
    pub created_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AnnotationsFile {
    next_id: u64,
    annotations: Vec<Annotation>,
}

fn read(dir: &Path) -> Result<AnnotationsFile, StoreError> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(AnnotationsFile { next_id: 1, annotations: Vec::new() })
        }
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

fn write(dir: &Path, f: &AnnotationsFile) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(f).map_err(|e| StoreError::Internal(e.to_string()))?;
    write_atomic(dir, FILE, &bytes)
}

/// Every annotation, in time order.
pub fn list(dir: &Path) -> Result<Vec<Annotation>, StoreError> {
    let mut a = read(dir)?.annotations;
    a.sort_by(|x, y| x.at.cmp(&y.at).then(x.id.cmp(&y.id)));
    Ok(a)
}

/// Adds an annotation at `at` (RFC 3339); returns it with its id.
pub fn add(dir: &Path, at: &str, text: &str, now: &str) -> Result<Annotation, StoreError> {
    if text.trim().is_empty() {
        return Err(StoreError::Invalid("an annotation needs a text".into()));
    }
    let mut f = read(dir)?;
    let a = Annotation {
        id: f.next_id.max(1),
        at: at.to_string(),
        text: text.trim().to_string(),
        created_at: now.to_string(),
    };
    f.next_id = a.id + 1;
    f.annotations.push(a.clone());
    write(dir, &f)?;
    Ok(a)
}

/// Deletes an annotation; false if there is none with that id.
pub fn delete(dir: &Path, id: u64) -> Result<bool, StoreError> {
    let mut f = read(dir)?;
    let before = f.annotations.len();
    f.annotations.retain(|a| a.id != id);
    if f.annotations.len() == before {
        return Ok(false);
    }
    write(dir, &f)?;
    Ok(true)
}

/// The annotation an argument names: its id, or a word of its text (the
/// only one containing it); an error lists what there is.
pub fn find(dir: &Path, what: &str) -> Result<Annotation, StoreError> {
    let all = list(dir)?;
    if let Ok(id) = what.trim_start_matches('#').parse::<u64>()
        && let Some(a) = all.iter().find(|a| a.id == id)
    {
        return Ok(a.clone());
    }
    let needle = what.to_lowercase();
    let hits: Vec<&Annotation> = all.iter().filter(|a| a.text.to_lowercase().contains(&needle)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let known: Vec<String> = all
                .iter()
                .map(|a| format!("#{} {} \"{}\"", a.id, wayfarer_core::time::prefix(&a.at, 10), a.text))
                .collect();
            Err(StoreError::Invalid(format!(
                "no annotation '{what}' (annotations: {})",
                if known.is_empty() { "none yet: wayfarer annotate DATE TEXT".to_string() } else { known.join(", ") }
            )))
        }
        many => Err(StoreError::Invalid(format!(
            "'{what}' is in {} annotations ({}); name one by its id",
            many.len(),
            many.iter().map(|a| format!("#{}", a.id)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_find_and_delete() {
        let d = tempfile::tempdir().unwrap();
        let a = add(d.path(), "2026-08-01T00:00:00Z", "Checkout redesigned", "now").unwrap();
        add(d.path(), "2026-06-01T00:00:00Z", "Summer sale", "now").unwrap();
        assert_eq!(list(d.path()).unwrap()[0].text, "Summer sale", "in time order");
        assert_eq!(find(d.path(), "checkout").unwrap().id, a.id);
        assert_eq!(find(d.path(), &a.id.to_string()).unwrap().text, "Checkout redesigned");
        let e = find(d.path(), "pricing").unwrap_err().to_string();
        assert!(e.contains("Checkout redesigned") && e.contains("Summer sale"), "{e}");
        add(d.path(), "2026-09-01T00:00:00Z", "Checkout copy", "now").unwrap();
        assert!(find(d.path(), "checkout").unwrap_err().to_string().contains("by its id"));
        assert!(add(d.path(), "2026-09-01T00:00:00Z", "  ", "now").is_err());
        assert!(delete(d.path(), a.id).unwrap());
        assert!(!delete(d.path(), a.id).unwrap());
    }
}
