//! Saved segments' definitions, kept in `DIR/segments.json`: a name, a
//! condition in the condition language, a description and when it was
//! created and changed. The file is replaced atomically on every change;
//! callers serialise writers. Whether a condition is valid is the engine's
//! business (it knows the data); this module only keeps names unique and
//! well formed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::manifest::write_atomic;

pub const FILE: &str = "segments.json";

/// The longest segment name.
pub const MAX_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentDef {
    pub name: String,
    /// The condition, as written (DESIGN §4.4).
    pub condition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SegmentsFile {
    segments: Vec<SegmentDef>,
}

/// Every saved segment, in the order they were created.
pub fn list(dir: &Path) -> Result<Vec<SegmentDef>, StoreError> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<SegmentsFile>(&bytes)
            .map(|f| f.segments)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

/// The segment of this name (names compare without regard to case).
pub fn get(dir: &Path, name: &str) -> Result<Option<SegmentDef>, StoreError> {
    Ok(list(dir)?.into_iter().find(|s| s.name.eq_ignore_ascii_case(name)))
}

/// Why a name cannot be a segment's, if it cannot: 1–64 characters of
/// letters, digits, spaces, `-`, `_` and `.`, not starting or ending with a
/// space (names appear in URLs, file names of exports and flags).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!("a segment name has 1 to {MAX_NAME} characters"));
    }
    if name.trim() != name {
        return Err(format!("segment name '{name}' starts or ends with a space"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))) {
        return Err(format!("segment name '{name}' has '{c}'; use letters, digits, spaces, '-', '_' and '.'"));
    }
    Ok(())
}

/// Saves a new segment, or replaces the one of the same name when
/// `replace` (keeping its creation time). An existing name without
/// `replace` is an error, as is a malformed name.
pub fn put(dir: &Path, def: SegmentDef, replace: bool) -> Result<SegmentDef, StoreError> {
    check_name(&def.name).map_err(StoreError::Invalid)?;
    let _lock = Lock::take(dir)?;
    let mut segments = list(dir)?;
    let saved = match segments.iter_mut().find(|s| s.name.eq_ignore_ascii_case(&def.name)) {
        Some(old) if replace => {
            let created_at = old.created_at.clone();
            *old = SegmentDef { created_at, ..def };
            old.clone()
        }
        Some(old) => {
            return Err(StoreError::Invalid(format!(
                "a segment named '{}' exists (replace it with --replace, or delete it first)",
                old.name
            )));
        }
        None => {
            segments.push(def.clone());
            def
        }
    };
    save(dir, segments)?;
    Ok(saved)
}

/// Deletes a segment; `false` when there was none of that name.
pub fn delete(dir: &Path, name: &str) -> Result<bool, StoreError> {
    let _lock = Lock::take(dir)?;
    let mut segments = list(dir)?;
    let before = segments.len();
    segments.retain(|s| !s.name.eq_ignore_ascii_case(name));
    if segments.len() == before {
        return Ok(false);
    }
    save(dir, segments)?;
    Ok(true)
}

/// `DIR/segments.lock`, held while a change reads and rewrites the file,
/// so two changes at once (two API requests, the CLI beside the server)
/// both keep their segment.
struct Lock(std::fs::File);

impl Lock {
    fn take(dir: &Path) -> Result<Lock, StoreError> {
        let path = dir.join("segments.lock");
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        file.lock().map_err(|e| StoreError::io(&path, e))?;
        Ok(Lock(file))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn save(dir: &Path, segments: Vec<SegmentDef>) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(&SegmentsFile { segments })
        .map_err(|e| StoreError::Internal(format!("segments: {e}")))?;
    write_atomic(dir, FILE, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, condition: &str) -> SegmentDef {
        SegmentDef {
            name: name.into(),
            condition: condition.into(),
            description: String::new(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn saved_replaced_and_deleted_by_name() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        put(dir.path(), def("Deal hunters", "persona = 'Deal hunters'"), false).unwrap();
        put(dir.path(), def("Loyal", "orders >= 3"), false).unwrap();
        let e = put(dir.path(), def("deal HUNTERS", "orders >= 1"), false).unwrap_err();
        assert!(e.to_string().contains("exists"), "{e}");
        let mut changed = def("deal hunters", "orders >= 1");
        changed.created_at = "2026-06-01T00:00:00Z".into();
        changed.updated_at = "2026-06-01T00:00:00Z".into();
        let saved = put(dir.path(), changed, true).unwrap();
        assert_eq!((saved.condition.as_str(), saved.created_at.as_str()), ("orders >= 1", "2026-01-01T00:00:00Z"));
        let names: Vec<String> = list(dir.path()).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["deal hunters", "Loyal"]);
        assert_eq!(get(dir.path(), "LOYAL").unwrap().map(|s| s.condition), Some("orders >= 3".into()));
        assert!(delete(dir.path(), "loyal").unwrap());
        assert!(!delete(dir.path(), "loyal").unwrap());
        assert_eq!(list(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn changes_at_once_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::thread::scope(|s| {
            for i in 0..8 {
                s.spawn(move || put(path, def(&format!("s{i}"), "orders >= 1"), false).unwrap());
            }
        });
        assert_eq!(list(path).unwrap().len(), 8);
    }

    #[test]
    fn names_are_checked_and_a_damaged_file_is_an_error() {
        for bad in ["", " lead", "a/b", "x?y", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("Cart abandoners 2026-Q3_v1.2").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert!(matches!(list(dir.path()), Err(StoreError::Corrupt(_))));
    }
}
