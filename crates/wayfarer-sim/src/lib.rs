//! The synthetic company: "Northwind Outfitters", an outdoor-gear web shop
//! with a mobile app, a phone sales team, live chat and support, whose
//! customers belong to five hidden personas. [`generate`] simulates their
//! journeys (visits through marketing channels, stages from Awareness to
//! Advocacy, identification across devices, orders, deliveries, repeat
//! purchases, surveys, comments, support contacts) with two injected pain
//! points and true channel effects, and keeps the ground truth
//! ([`truth::GroundTruth`]) beside the events. The events are written as
//! Segment messages (NDJSON) or flat Parquet rows; [`DEMO_CONFIG`] is the
//! configuration that names the shop's pages and personas.
//!
//! Generation is deterministic for a given [`SimConfig`]: every customer is
//! generated from its own random stream seeded from (seed, customer index),
//! in parallel, and the events are then sorted by (timestamp, customer,
//! per-customer sequence), so the thread count does not matter.
//!
//! Modules: `model` (personas, channels, true effects), `catalog` (pages,
//! products, traffic sources, devices), `customer` (one customer's journey),
//! `texts` (comments and messages), `event` (compact events, ids, time),
//! `output` (NDJSON and Parquet writers), [`truth`] (ground truth).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

mod catalog;
pub mod clickstream;
mod customer;
mod event;
pub mod live;
mod model;
mod output;
mod rng;
mod texts;
pub mod truth;

#[cfg(test)]
mod tests;

use crate::customer::{CustomerMeta, CustomerOut};
use crate::event::{DAY, Ev, HOUR};
use crate::rng::Rng;

/// The demo configuration: the defaults plus Northwind's own domain,
/// touchpoints for its pages and its five personas.
pub const DEMO_CONFIG: &str = include_str!("demo_config.toml");

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub customers: usize,
    /// Start of the simulated window, microseconds since the epoch (UTC).
    pub start_micros: i64,
    /// Length of the window in days.
    pub days: u32,
    /// A change the company made on a date, if any.
    pub intervention: Option<Intervention>,
}

/// A dated change to the company, the ground truth of comparing maps over
/// time (DESIGN §11): from `at_micros` on, the shipping costs are shown up
/// front, so a share `recovered` of the deal hunters who would have left
/// the checkout at the shipping-costs page buy instead. Nothing else
/// changes (the random draws are the same with or without it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intervention {
    pub at_micros: i64,
    pub recovered: f64,
}

impl Intervention {
    /// What the demo's company does: the fix half-way through the window
    /// (at midnight UTC), recovering 60 % of those exits.
    pub fn halfway(start_micros: i64, days: u32) -> Intervention {
        let at = start_micros + i64::from(days / 2) * DAY;
        Intervention { at_micros: at - at.rem_euclid(DAY), recovered: 0.6 }
    }

    pub const DESCRIPTION: &'static str = "Shipping costs shown up front for deal hunters";
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 7,
            customers: 20_000,
            // 2026-05-01T00:00:00Z
            start_micros: 1_777_593_600_000_000,
            days: 184,
            intervention: None,
        }
    }
}

impl SimConfig {
    /// End of the simulated window (exclusive).
    pub fn end_micros(&self) -> i64 {
        self.start_micros + i64::from(self.days.max(1)) * DAY
    }
}

/// A failure writing the company's files.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: parquet: {source}", .path.display())]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("{}: arrow: {source}", .path.display())]
    Arrow { path: PathBuf, source: arrow_schema::ArrowError },
    #[error("{}: json: {source}", .path.display())]
    Json { path: PathBuf, source: serde_json::Error },
}

/// The simulated company: its events (in time order) and the ground truth.
pub struct Company {
    seed: u64,
    events: Vec<Ev>,
    customers: Vec<CustomerMeta>,
    pub truth: truth::GroundTruth,
}

impl std::fmt::Debug for Company {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Company")
            .field("seed", &self.seed)
            .field("customers", &self.customers.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// Simulates the company; deterministic for a given configuration.
pub fn generate(cfg: &SimConfig) -> Company {
    let start = cfg.start_micros;
    let end = cfg.end_micros();
    let n = cfg.customers.min(u32::MAX as usize) as u32;
    let mut outs: Vec<CustomerOut> =
        (0..n).into_par_iter().map(|i| customer::generate(cfg.seed, i, start, end, cfg.intervention)).collect();
    shared_laptops(cfg.seed, &mut outs, end);
    let total: usize = outs.iter().map(|o| o.events.len()).sum();
    let truth = truth::build(cfg.seed, start, end, &outs, total as u64, cfg.intervention);
    let mut events = Vec::with_capacity(total);
    let mut customers = Vec::with_capacity(outs.len());
    for o in outs {
        events.extend(o.events);
        customers.push(o.meta);
    }
    events.par_sort_unstable_by_key(|e| (e.ts, e.cust, e.seq));
    Company { seed: cfg.seed, events, customers, truth }
}

/// Writes the benchmark table of a company too large to hold in memory:
/// customers are simulated and written in chunks (each chunk in time order;
/// a customer's events stay together and in order). The shared-laptop
/// episodes, which only change anonymous ids, are left out.
pub fn write_bench_streaming(cfg: &SimConfig, path: &Path) -> Result<u64, SimError> {
    const CHUNK: u32 = 8_000;
    let (start, end) = (cfg.start_micros, cfg.end_micros());
    let n = cfg.customers.min(u32::MAX as usize) as u32;
    let mut w = output::BenchWriter::create(path)?;
    let mut a = 0u32;
    while a < n {
        let b = (a + CHUNK).min(n);
        let outs: Vec<CustomerOut> =
            (a..b).into_par_iter().map(|i| customer::generate(cfg.seed, i, start, end, cfg.intervention)).collect();
        let mut events: Vec<Ev> = outs.into_iter().flat_map(|o| o.events).collect();
        events.par_sort_unstable_by_key(|e| (e.ts, e.cust, e.seq));
        w.write(&events)?;
        a = b;
    }
    w.close()
}

/// About 1% of identified customers sign in once on another identified
/// customer's laptop: the same anonymous id then appears with two user ids;
/// the first user keeps it and the second stays a separate customer.
fn shared_laptops(seed: u64, outs: &mut [CustomerOut], end: i64) {
    let mut rng = Rng::stream(seed, u64::MAX);
    let identified: Vec<usize> =
        outs.iter().enumerate().filter(|(_, o)| o.facts.main_login.is_some()).map(|(i, _)| i).collect();
    if identified.len() < 2 {
        return;
    }
    for &b in &identified {
        if !rng.chance(model::SHARED_LAPTOP) {
            continue;
        }
        let a = identified[rng.below(identified.len())];
        // Decision drop-outs keep their exit as their last interaction.
        if a == b || outs[b].facts.stage_reached == 2 {
            continue;
        }
        let (Some(la), Some(lb)) = (outs[a].facts.main_login, outs[b].facts.main_login) else {
            continue;
        };
        let t0 = la.max(lb) + rng.int(HOUR, 14 * DAY);
        if t0 + HOUR >= end {
            continue;
        }
        let platform = outs[a].meta.devices[0].platform;
        let seq0 = outs[b].events.iter().map(|e| e.seq + 1).max().unwrap_or(0);
        let extra = customer::shared_laptop_events(&mut rng, a as u32, platform, b as u32, t0, seq0);
        let ev = &mut outs[b].events;
        ev.extend(extra);
        ev.sort_unstable_by_key(|e| (e.ts, e.seq));
    }
}

impl Company {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Writes the events as Segment messages, one per line, in time order;
    /// returns the number of lines.
    pub fn write_ndjson(&self, path: &Path) -> Result<u64, SimError> {
        output::write_ndjson(self, path)
    }

    /// Writes the same events as flat Parquet rows; returns the row count.
    pub fn write_parquet(&self, path: &Path) -> Result<u64, SimError> {
        output::write_parquet(self, path)
    }

    /// Writes the benchmark table: the interaction events (track, page,
    /// screen) with identities already resolved, as every engine of the
    /// benchmark reads it: `event_id` (Int64, file order, breaks ties),
    /// `customer_id` (Int64), `timestamp` (µs, UTC), `event`, `revenue`.
    pub fn write_bench_parquet(&self, path: &Path) -> Result<u64, SimError> {
        output::write_bench_parquet(self, path)
    }

    /// Writes the ground truth as pretty JSON.
    pub fn write_truth(&self, path: &Path) -> Result<(), SimError> {
        let io = |source: std::io::Error| SimError::Io { path: path.to_path_buf(), source };
        let file = File::create(path).map_err(io)?;
        let mut w = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut w, &self.truth)
            .map_err(|source| SimError::Json { path: path.to_path_buf(), source })?;
        w.write_all(b"\n").map_err(io)?;
        w.flush().map_err(io)?;
        Ok(())
    }
}
