//! A saved journey map (DESIGN §11): the maps of all customers and of each
//! persona, the configuration's hash (a comparison across configurations
//! says so) and the data range, with the notes as they were. Stored as one
//! JSON file by `wayfarer_store::snapshots`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wayfarer_core::config::Config;
use wayfarer_store::notes::Note;

use super::report::JourneyMap;
use crate::EngineError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapSnapshot {
    pub name: String,
    pub created_at: String,
    /// SHA-256 of the configuration (stages, touchpoints, personas…) the maps were built with.
    pub config_hash: String,
    /// The first and last event of the data, and the scope's dates if it had any.
    pub data_start: String,
    pub data_end: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Where the personas came from: configured or discovered.
    pub personas: String,
    /// All customers first, then one map per persona.
    pub maps: Vec<JourneyMap>,
    /// The notes on the map's cells when the snapshot was taken (they point
    /// at cells by stage, lane and persona names, so they stay attached).
    #[serde(default)]
    pub notes: Vec<Note>,
    /// The KPI targets as they stood: met or missed by these maps.
    #[serde(default)]
    pub targets: Vec<super::plans::TargetStatus>,
}

/// A snapshot's summary (for listings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub name: String,
    pub created_at: String,
    pub config_hash: String,
    pub data_start: String,
    pub data_end: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub customers: u64,
    pub personas: Vec<String>,
    pub pain_points: usize,
}

impl MapSnapshot {
    pub fn info(&self) -> SnapshotInfo {
        let all = self.maps.first();
        SnapshotInfo {
            name: self.name.clone(),
            created_at: self.created_at.clone(),
            config_hash: self.config_hash.clone(),
            data_start: self.data_start.clone(),
            data_end: self.data_end.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            customers: all.map_or(0, |m| m.scope.customers),
            personas: self.maps.iter().skip(1).filter_map(|m| m.scope.persona.clone()).collect(),
            pain_points: all.map_or(0, |m| m.pain_points.len()),
        }
    }
}

/// SHA-256 (hex) of a configuration as it is serialised.
pub fn config_hash(config: &Config) -> String {
    let bytes = serde_json::to_vec(config).unwrap_or_default();
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn store_err(e: wayfarer_store::StoreError) -> EngineError {
    match e {
        wayfarer_store::StoreError::Invalid(m) if m.starts_with("no snapshot") => EngineError::NotFound(m),
        wayfarer_store::StoreError::Invalid(m) => EngineError::InvalidQuery(m),
        e => EngineError::Store(e),
    }
}

/// Saves a snapshot in `DIR/snapshots/` (atomically); a taken name is an
/// error unless `replace`.
pub fn save(data: &Path, s: &MapSnapshot, replace: bool) -> Result<(), EngineError> {
    let bytes =
        serde_json::to_vec(s).map_err(|e| EngineError::Store(wayfarer_store::StoreError::Internal(e.to_string())))?;
    wayfarer_store::snapshots::save(data, &s.name, &bytes, replace).map_err(store_err)
}

/// Loads a snapshot by name.
pub fn load(data: &Path, name: &str) -> Result<MapSnapshot, EngineError> {
    let bytes = wayfarer_store::snapshots::load(data, name).map_err(store_err)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| EngineError::Store(wayfarer_store::StoreError::Corrupt(format!("snapshot '{name}': {e}"))))
}

/// Every saved snapshot's summary, by the end of its data.
pub fn list(data: &Path) -> Result<Vec<SnapshotInfo>, EngineError> {
    let mut out = Vec::new();
    for name in wayfarer_store::snapshots::names(data).map_err(store_err)? {
        out.push(load(data, &name)?.info());
    }
    let end = |i: &SnapshotInfo| i.to.clone().unwrap_or_else(|| i.data_end.clone());
    out.sort_by(|a, b| (end(a), &a.created_at).cmp(&(end(b), &b.created_at)));
    Ok(out)
}
