//! The outbox of triggers' actions (DESIGN §10): `DIR/outbox/actions.ndjson`,
//! an append-only log made durable (fsync) before anything is sent. An
//! action is recorded when it becomes due (with its payload, or as held out
//! for the control group), each delivery attempt and its outcome are
//! appended, and the state of every action is the fold of its records: so a
//! kill -9 at any moment loses no due action, and an action sent twice
//! (delivered, not yet marked) carries the same id, the receiver's
//! idempotency key. `outbox.lock` serialises writers (the server and the
//! CLI).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StoreError;

pub const DIR: &str = "outbox";
const LOG: &str = "actions.ndjson";

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Webhook,
    Email,
    /// The customer is in the control group: nothing is sent, and the
    /// trigger's report compares them with those acted on.
    Holdout,
    /// The trigger has no action (it only measures).
    None,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Record {
    /// An action became due (or was held out).
    Due {
        id: String,
        trigger: String,
        customer: String,
        kind: Kind,
        occurred_at_us: i64,
        due_at_us: i64,
        created_at_us: i64,
        #[serde(default)]
        payload: serde_json::Value,
    },
    /// A delivery attempt that failed; the next one is not before `next_at_us`.
    Failed {
        id: String,
        at_us: i64,
        error: String,
        next_at_us: i64,
    },
    Delivered {
        id: String,
        at_us: i64,
        status: u16,
    },
    /// Out of attempts: in the dead letters until retried.
    Dead {
        id: String,
        at_us: i64,
        error: String,
    },
    /// Back from the dead letters (`wayfarer actions retry`).
    Retry {
        id: String,
        at_us: i64,
    },
}

impl Record {
    fn id(&self) -> &str {
        match self {
            Record::Due { id, .. }
            | Record::Failed { id, .. }
            | Record::Delivered { id, .. }
            | Record::Dead { id, .. }
            | Record::Retry { id, .. } => id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// To be delivered (at `next_at_us`).
    Pending,
    Delivered,
    Dead,
    /// Held out, or nothing to send: done when recorded.
    Recorded,
}

/// An action with its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub id: String,
    pub trigger: String,
    pub customer: String,
    pub kind: Kind,
    pub occurred_at_us: i64,
    pub due_at_us: i64,
    pub created_at_us: i64,
    pub payload: serde_json::Value,
    pub state: State,
    pub attempts: u32,
    pub next_at_us: i64,
    pub last_error: Option<String>,
    pub delivered_at_us: Option<i64>,
}

/// The outbox of a data directory.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(data_dir: &Path) -> Outbox {
        Outbox { dir: data_dir.join(DIR) }
    }

    /// Held while appending, and by a deliverer for a whole round (one
    /// delivers at a time).
    pub fn lock(&self, what: &str) -> Result<crate::segment_defs::Lock, StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        crate::segment_defs::Lock::named(&self.dir, &format!("{what}.lock"))
    }

    /// Appends records, durable when this returns.
    pub fn append(&self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let _lock = self.lock("append")?;
        let mut text = Vec::new();
        for r in records {
            serde_json::to_writer(&mut text, r).map_err(|e| StoreError::Internal(e.to_string()))?;
            text.push(b'\n');
        }
        crate::manifest::append_durable(&self.dir.join(LOG), text)
    }

    /// Every action with its state, in the order they became due. A torn
    /// line (a crash mid-append) is skipped; any other bad line is an error
    /// naming it.
    pub fn load(&self) -> Result<Vec<Action>, StoreError> {
        let path = self.dir.join(LOG);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut actions: Vec<Action> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        for (n, line) in lines.iter().enumerate() {
            let record: Record = match serde_json::from_str(line) {
                Ok(r) => r,
                // A torn append: the next append started a new line after it.
                Err(_) if !line.ends_with('}') => continue,
                Err(e) => return Err(StoreError::Corrupt(format!("{}: line {}: {e}", path.display(), n + 1))),
            };
            let Some(&i) = at.get(record.id()) else {
                if let Record::Due { id, trigger, customer, kind, occurred_at_us, due_at_us, created_at_us, payload } =
                    record
                {
                    at.insert(id.clone(), actions.len());
                    let state =
                        if matches!(kind, Kind::Webhook | Kind::Email) { State::Pending } else { State::Recorded };
                    actions.push(Action {
                        id,
                        trigger,
                        customer,
                        kind,
                        occurred_at_us,
                        due_at_us,
                        created_at_us,
                        payload,
                        state,
                        attempts: 0,
                        next_at_us: due_at_us,
                        last_error: None,
                        delivered_at_us: None,
                    });
                }
                continue;
            };
            let a = &mut actions[i];
            match record {
                // The same action recorded twice (a crash before the first
                // record's effects were known): the first stands.
                Record::Due { .. } => {}
                Record::Failed { error, next_at_us, .. } => {
                    a.attempts += 1;
                    a.last_error = Some(error);
                    a.next_at_us = next_at_us;
                }
                Record::Delivered { at_us, .. } => {
                    a.attempts += 1;
                    a.state = State::Delivered;
                    a.delivered_at_us = Some(at_us);
                }
                Record::Dead { error, .. } => {
                    a.attempts += 1;
                    a.state = State::Dead;
                    a.last_error = Some(error);
                }
                Record::Retry { at_us, .. } if a.state == State::Dead => {
                    a.state = State::Pending;
                    a.attempts = 0;
                    a.next_at_us = at_us;
                }
                Record::Retry { .. } => {}
            }
        }
        Ok(actions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(id: &str, kind: Kind) -> Record {
        Record::Due {
            id: id.into(),
            trigger: "t".into(),
            customer: "c".into(),
            kind,
            occurred_at_us: 1,
            due_at_us: 2,
            created_at_us: 3,
            payload: serde_json::json!({"x": 1}),
        }
    }

    #[test]
    fn states_fold_from_the_log_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::new(dir.path());
        o.append(&[due("a", Kind::Webhook), due("b", Kind::Webhook), due("h", Kind::Holdout)]).unwrap();
        o.append(&[Record::Failed { id: "a".into(), at_us: 5, error: "HTTP 500".into(), next_at_us: 9 }]).unwrap();
        o.append(&[Record::Delivered { id: "a".into(), at_us: 10, status: 200 }]).unwrap();
        o.append(&[Record::Dead { id: "b".into(), at_us: 11, error: "timeout".into() }]).unwrap();
        // A crash mid-append leaves half a line; the next append starts afresh.
        let log = dir.path().join(DIR).join(LOG);
        let mut text = std::fs::read(&log).unwrap();
        text.extend(br#"{"op":"delivered","id":"b","at_"#);
        std::fs::write(&log, text).unwrap();
        o.append(&[Record::Retry { id: "b".into(), at_us: 12 }, due("a", Kind::Webhook)]).unwrap();
        let all = o.load().unwrap();
        let by = |id: &str| all.iter().find(|a| a.id == id).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!((by("a").state, by("a").attempts, by("a").delivered_at_us), (State::Delivered, 2, Some(10)));
        assert_eq!((by("b").state, by("b").attempts, by("b").next_at_us), (State::Pending, 0, 12));
        assert_eq!(by("h").state, State::Recorded);
    }
}
