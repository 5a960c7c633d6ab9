//! Analysts' notes on journey-map cells, kept in `DIR/notes.json`.
//!
//! A note is attached to a cell by names, not positions — stage, lane and
//! persona (none for all customers) — so it survives rebuilds of the map,
//! new data and restarts. The file is replaced atomically on every change;
//! callers serialise writers (the server holds one lock around edits).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::manifest::write_atomic;

pub const FILE: &str = "notes.json";

/// Where a note sits on the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellRef {
    pub stage: String,
    pub lane: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteStatus {
    Open,
    Investigating,
    Confirmed,
    Rejected,
    Done,
}

impl NoteStatus {
    pub const ALL: [NoteStatus; 5] =
        [NoteStatus::Open, NoteStatus::Investigating, NoteStatus::Confirmed, NoteStatus::Rejected, NoteStatus::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            NoteStatus::Open => "open",
            NoteStatus::Investigating => "investigating",
            NoteStatus::Confirmed => "confirmed",
            NoteStatus::Rejected => "rejected",
            NoteStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<NoteStatus> {
        NoteStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: u64,
    pub cell: CellRef,
    /// What the analyst thinks is going on.
    pub hypothesis: String,
    pub owner: String,
    pub status: NoteStatus,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct NotesFile {
    next_id: u64,
    notes: Vec<Note>,
}

fn read(dir: &Path) -> Result<NotesFile, StoreError> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NotesFile { next_id: 1, notes: Vec::new() }),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

fn write(dir: &Path, f: &NotesFile) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(f).map_err(|e| StoreError::Internal(e.to_string()))?;
    write_atomic(dir, FILE, &bytes)
}

/// Every note, oldest first.
pub fn list(dir: &Path) -> Result<Vec<Note>, StoreError> {
    Ok(read(dir)?.notes)
}

/// Adds a note; returns it with its id and times.
pub fn add(
    dir: &Path,
    cell: CellRef,
    hypothesis: &str,
    owner: &str,
    status: NoteStatus,
    now: &str,
) -> Result<Note, StoreError> {
    let mut f = read(dir)?;
    let note = Note {
        id: f.next_id.max(1),
        cell,
        hypothesis: hypothesis.to_string(),
        owner: owner.to_string(),
        status,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    f.next_id = note.id + 1;
    f.notes.push(note.clone());
    write(dir, &f)?;
    Ok(note)
}

/// Changes a note's status; false if there is no such note.
pub fn set_status(dir: &Path, id: u64, status: NoteStatus, now: &str) -> Result<bool, StoreError> {
    let mut f = read(dir)?;
    let Some(n) = f.notes.iter_mut().find(|n| n.id == id) else { return Ok(false) };
    n.status = status;
    n.updated_at = now.to_string();
    write(dir, &f)?;
    Ok(true)
}

/// Deletes a note; false if there is no such note.
pub fn delete(dir: &Path, id: u64) -> Result<bool, StoreError> {
    let mut f = read(dir)?;
    let before = f.notes.len();
    f.notes.retain(|n| n.id != id);
    if f.notes.len() == before {
        return Ok(false);
    }
    write(dir, &f)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(stage: &str) -> CellRef {
        CellRef { stage: stage.into(), lane: "pain".into(), persona: None }
    }

    #[test]
    fn notes_round_trip_and_ids_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        let a = add(dir.path(), cell("Decision"), "Shipping cost shock", "ana", NoteStatus::Open, "t1").unwrap();
        let b = add(dir.path(), cell("Purchase"), "Payment form", "bo", NoteStatus::Investigating, "t2").unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        assert!(set_status(dir.path(), 1, NoteStatus::Confirmed, "t3").unwrap());
        assert!(delete(dir.path(), 2).unwrap());
        assert!(!delete(dir.path(), 2).unwrap());
        let c = add(dir.path(), cell("Retention"), "x", "", NoteStatus::Open, "t4").unwrap();
        assert_eq!(c.id, 3);
        let all = list(dir.path()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].status, NoteStatus::Confirmed);
        assert_eq!(all[0].updated_at, "t3");
        assert!(!dir.path().join("notes.json.part").exists());
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{oops").unwrap();
        assert!(matches!(list(dir.path()), Err(StoreError::Corrupt(_))));
    }
}
