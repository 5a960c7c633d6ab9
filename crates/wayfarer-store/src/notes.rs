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

/// The team's plan for an opportunity (by its id): how much work it is
/// (0 = trivial … 5 = a project) and who owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub effort: u8,
    pub owner: String,
    pub updated_at: String,
}

/// A KPI target on a map cell: `metric op value` for a stage (and persona),
/// with its owner ("Decision conversion to next >= 65 %, checkout team").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub id: u64,
    pub stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<String>,
    /// `conversion`, `reach`, `time_to_next` (seconds), `emotion` or `nps`.
    pub metric: String,
    /// `>=` or `<=`.
    pub op: String,
    pub value: f64,
    pub owner: String,
    pub created_at: String,
}

/// The metrics a target may name.
pub const TARGET_METRICS: [&str; 5] = ["conversion", "reach", "time_to_next", "emotion", "nps"];

#[derive(Debug, Default, Serialize, Deserialize)]
struct NotesFile {
    next_id: u64,
    notes: Vec<Note>,
    /// Opportunity id → the team's plan.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    plans: std::collections::BTreeMap<String, Plan>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    targets: Vec<Target>,
    #[serde(default)]
    next_target: u64,
}

fn read(dir: &Path) -> Result<NotesFile, StoreError> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NotesFile { next_id: 1, ..NotesFile::default() }),
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

/// Every opportunity's plan, by opportunity id.
pub fn plans(dir: &Path) -> Result<std::collections::BTreeMap<String, Plan>, StoreError> {
    Ok(read(dir)?.plans)
}

/// Sets (or, with `None`, removes) an opportunity's plan.
pub fn set_plan(dir: &Path, opportunity: &str, plan: Option<Plan>) -> Result<(), StoreError> {
    if let Some(p) = &plan
        && p.effort > 5
    {
        return Err(StoreError::Invalid(format!("effort {}: from 0 (trivial) to 5 (a project)", p.effort)));
    }
    let mut f = read(dir)?;
    match plan {
        Some(p) => f.plans.insert(opportunity.to_string(), p),
        None => f.plans.remove(opportunity),
    };
    write(dir, &f)
}

/// Every KPI target, oldest first.
pub fn targets(dir: &Path) -> Result<Vec<Target>, StoreError> {
    Ok(read(dir)?.targets)
}

/// Adds a KPI target (its id is set here); checks the metric and operator.
pub fn add_target(dir: &Path, mut t: Target) -> Result<Target, StoreError> {
    if !TARGET_METRICS.contains(&t.metric.as_str()) {
        return Err(StoreError::Invalid(format!(
            "metric '{}': expected {}{}",
            t.metric,
            TARGET_METRICS.join(", "),
            wayfarer_core::suggest::hint(&t.metric, &TARGET_METRICS)
        )));
    }
    if t.op != ">=" && t.op != "<=" {
        return Err(StoreError::Invalid(format!("operator '{}': expected >= or <=", t.op)));
    }
    if !t.value.is_finite() {
        return Err(StoreError::Invalid("a target needs a number".into()));
    }
    let mut f = read(dir)?;
    t.id = f.next_target.max(f.targets.iter().map(|x| x.id).max().unwrap_or(0)) + 1;
    f.next_target = t.id;
    f.targets.push(t.clone());
    write(dir, &f)?;
    Ok(t)
}

/// Deletes a KPI target; false if there is none with that id.
pub fn delete_target(dir: &Path, id: u64) -> Result<bool, StoreError> {
    let mut f = read(dir)?;
    let before = f.targets.len();
    f.targets.retain(|t| t.id != id);
    if f.targets.len() == before {
        return Ok(false);
    }
    write(dir, &f)?;
    Ok(true)
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn plans_and_targets_are_kept_beside_the_notes() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        add(
            dir,
            CellRef { stage: "Decision".into(), lane: "pain".into(), persona: None },
            "h",
            "me",
            NoteStatus::Open,
            "t",
        )
        .unwrap();
        set_plan(dir, "fix:a", Some(Plan { effort: 2, owner: "team".into(), updated_at: "t".into() })).unwrap();
        assert!(
            set_plan(dir, "fix:a", Some(Plan { effort: 6, owner: String::new(), updated_at: "t".into() })).is_err()
        );
        let t = |metric: &str, op: &str| Target {
            id: 0,
            stage: "Decision".into(),
            persona: None,
            metric: metric.into(),
            op: op.into(),
            value: 0.65,
            owner: "checkout".into(),
            created_at: "t".into(),
        };
        let a = add_target(dir, t("conversion", ">=")).unwrap();
        let b = add_target(dir, t("reach", "<=")).unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        let e = add_target(dir, t("convresion", ">=")).unwrap_err().to_string();
        assert!(e.contains("did you mean 'conversion'"), "{e}");
        assert!(add_target(dir, t("reach", "=")).is_err());
        assert!(delete_target(dir, 1).unwrap());
        // A new target never takes a deleted one's id.
        assert_eq!(add_target(dir, t("nps", ">=")).unwrap().id, 3);
        // The notes are still there, and the plans.
        assert_eq!(list(dir).unwrap().len(), 1);
        assert_eq!(plans(dir).unwrap()["fix:a"].effort, 2);
        assert_eq!(targets(dir).unwrap().len(), 2);
        set_plan(dir, "fix:a", None).unwrap();
        assert!(plans(dir).unwrap().is_empty());
    }
}
