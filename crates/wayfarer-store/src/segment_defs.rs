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

/// A valid segment name made from any text (what a "save as segment" link
/// proposes): other characters become spaces, runs of spaces one, and the
/// result is cut to the longest a name may be.
pub fn suggest_name(text: &str) -> String {
    let mapped: String =
        text.chars().map(|c| if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { ' ' }).collect();
    let joined = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = joined.chars().take(MAX_NAME).collect();
    match cut.trim_end() {
        "" => "Saved segment".to_string(),
        s => s.to_string(),
    }
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
pub struct Lock(std::fs::File);

impl Lock {
    fn take(dir: &Path) -> Result<Lock, StoreError> {
        Lock::named(dir, "segments.lock")
    }

    /// Held while live membership is refreshed (`DIR/membership.lock`):
    /// the server's refresh and `wayfarer segments refresh` take turns, so
    /// a change is recorded once.
    pub fn membership(dir: &Path) -> Result<Lock, StoreError> {
        Lock::named(dir, "membership.lock")
    }

    /// An exclusive lock on `DIR/NAME`, held until dropped.
    pub fn named(dir: &Path, name: &str) -> Result<Lock, StoreError> {
        let path = dir.join(name);
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

    #[test]
    fn members_files_round_trip_any_id_and_unchanged_ones_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let seg = |name: &str, members: &[&str], file: Option<String>| CurrentSegment {
            name: name.into(),
            condition: "x".into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            file,
        };
        let odd = ["a\\b", "line\nbreak", "plain", "cr\rx", "trailing\\"];
        let current = Current {
            generation: 1,
            segments: vec![seg("odd", &odd, None), seg("empty", &[], None)],
            segment_through: Some(3),
        };
        record(dir.path(), &[], current).unwrap();
        let back = load_current(dir.path()).unwrap().unwrap();
        assert_eq!(back.segments[0].members, odd);
        assert!(back.segments[1].members.is_empty());
        let (kept, rewritten) = (back.segments[0].file.clone().unwrap(), back.segments[1].file.clone().unwrap());
        // The next generation keeps the first segment's file and replaces the second's.
        let next = Current {
            generation: 2,
            segments: vec![seg("odd", &odd, Some(kept.clone())), seg("empty", &["new"], None)],
            segment_through: Some(4),
        };
        record(dir.path(), &[], next).unwrap();
        let back = load_current(dir.path()).unwrap().unwrap();
        assert_eq!(back.segments[0].file.as_deref(), Some(kept.as_str()));
        assert_eq!(back.segments[1].members, ["new"]);
        let sub = dir.path().join(MEMBERSHIP_DIR);
        assert!(!sub.join(&rewritten).exists(), "the replaced members file is removed");
        assert!(sub.join(&kept).exists());
    }

    #[test]
    fn suggested_names_are_valid() {
        for text in ["Dropped after step 1 (Product Viewed[url ~ '*x*']) before Order", "", "((", &"long ".repeat(40)] {
            let name = suggest_name(text);
            assert_eq!(check_name(&name), Ok(()), "{text:?} -> {name:?}");
        }
        assert_eq!(suggest_name("The week cohort of 2026-07-06"), "The week cohort of 2026-07-06");
        assert_eq!(suggest_name("A (B) 'c'"), "A B c");
    }

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

/// Where live membership is kept: `DIR/membership/current.json` (the
/// members each segment had at the last refresh) and
/// `DIR/membership/changes.ndjson` (entries and exits, appended).
pub const MEMBERSHIP_DIR: &str = "membership";

/// The members of each segment at a generation of the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Current {
    pub generation: u64,
    pub segments: Vec<CurrentSegment>,
    /// The newest store segment (file) the members were decided with: the
    /// next refresh re-decides only customers in newer ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_through: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentSegment {
    pub name: String,
    /// The condition the members were decided by (a changed condition
    /// starts again without recording entries).
    pub condition: String,
    /// Customer ids, sorted. Kept in [`file`](Self::file), one per line
    /// (older directories kept them here).
    #[serde(default, skip_serializing)]
    pub members: Vec<String>,
    /// The file under `membership/` holding the members: written once, and
    /// under a new name when they change, so an unchanged segment costs no
    /// write. `None` in memory: the members are new and get a file when
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A members file's line for an id (a backslash, newline or carriage
/// return escaped).
fn member_line(id: &str, out: &mut Vec<u8>) {
    if id.contains(['\\', '\n', '\r']) {
        out.extend(id.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r").as_bytes());
    } else {
        out.extend(id.as_bytes());
    }
    out.push(b'\n');
}

/// The id of a members file's line.
fn member_of(line: &str) -> String {
    if !line.contains('\\') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// One customer entering or leaving a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// When it was seen (the commit that changed it), RFC 3339.
    pub at: String,
    /// The same in µs since 1970, for comparisons.
    pub at_us: i64,
    pub segment: String,
    pub customer: String,
    /// `entered` or `left`.
    pub change: String,
}

pub fn load_current(dir: &Path) -> Result<Option<Current>, StoreError> {
    let sub = dir.join(MEMBERSHIP_DIR);
    let path = sub.join("current.json");
    let mut current: Current = match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    for s in &mut current.segments {
        if let Some(file) = &s.file {
            let p = sub.join(file);
            let text = std::fs::read_to_string(&p).map_err(|e| StoreError::io(&p, e))?;
            s.members = text.lines().map(member_of).collect();
        }
    }
    Ok(Some(current))
}

/// Appends the changes (made durable), writes the members of segments
/// without a file to new files, then replaces `current.json` naming them
/// and removes members files it no longer names: a crash between the steps
/// repeats the changes' computation next time rather than losing them.
pub fn record(dir: &Path, changes: &[Change], mut current: Current) -> Result<(), StoreError> {
    let sub = dir.join(MEMBERSHIP_DIR);
    std::fs::create_dir_all(&sub).map_err(|e| StoreError::io(&sub, e))?;
    if !changes.is_empty() {
        let path = sub.join("changes.ndjson");
        let mut text = Vec::new();
        for c in changes {
            serde_json::to_writer(&mut text, c).map_err(|e| StoreError::Internal(e.to_string()))?;
            text.push(b'\n');
        }
        crate::manifest::append_durable(&path, text)?;
    }
    for (i, s) in current.segments.iter_mut().enumerate() {
        if s.file.is_none() {
            let name = format!("members-{}-{i}.txt", current.generation);
            let mut text = Vec::with_capacity(s.members.iter().map(|m| m.len() + 1).sum());
            for m in &s.members {
                member_line(m, &mut text);
            }
            write_atomic(&sub, &name, &text)?;
            s.file = Some(name);
        }
    }
    let bytes = serde_json::to_vec(&current).map_err(|e| StoreError::Internal(e.to_string()))?;
    write_atomic(&sub, "current.json", &bytes)?;
    // Members files current.json no longer names.
    let named: std::collections::HashSet<&str> = current.segments.iter().filter_map(|s| s.file.as_deref()).collect();
    if let Ok(entries) = std::fs::read_dir(&sub) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("members-") && !named.contains(name.as_str()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// The recorded changes of a segment (any, with `None`) since `since_us`,
/// optionally of one customer, oldest first.
pub fn changes(
    dir: &Path,
    segment: Option<&str>,
    customer: Option<&str>,
    since_us: i64,
) -> Result<Vec<Change>, StoreError> {
    let path = dir.join(MEMBERSHIP_DIR).join("changes.ndjson");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    // A torn last line (a crash mid-append) is skipped; it is written again.
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Change>(l).ok())
        .filter(|c| c.at_us >= since_us)
        .filter(|c| segment.is_none_or(|s| c.segment.eq_ignore_ascii_case(s)))
        .filter(|c| customer.is_none_or(|id| c.customer == id))
        .collect())
}
