//! Test support: a temporary store built from hand-written events.

use wayfarer_core::time::MICROS_PER_MINUTE;
use wayfarer_core::{Config, Event, Kind};
use wayfarer_store::{Store, Writer};

use crate::Model;

pub const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
pub const MIN: i64 = MICROS_PER_MINUTE;

/// A tiny event builder.
pub fn ev(user: &str, minutes: f64, name: &str) -> Event {
    let ts = T0 + (minutes * MIN as f64) as i64;
    let mut e = Event::new(format!("{user}-{name}-{ts}-{}", rand_suffix(name, ts)), ts, name);
    e.user_id = Some(user.to_string());
    e.kind = match name {
        "Page Viewed" => Kind::Page,
        "Screen Viewed" => Kind::Screen,
        "Identify" => Kind::Identify,
        _ => Kind::Track,
    };
    e
}

fn rand_suffix(name: &str, ts: i64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) ^ (name.len() as u64) ^ (ts as u64 & 0xff)
}

pub fn with(mut e: Event, f: impl FnOnce(&mut Event)) -> Event {
    f(&mut e);
    e
}

/// Writes the events (in the given order) to a fresh store.
pub fn store(events: Vec<Event>) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = Writer::open(dir.path(), 0).expect("writer");
    w.add(events).expect("add");
    w.commit().expect("commit");
    let s = Store::open(dir.path()).expect("open");
    (dir, s)
}

pub fn model(store: &Store) -> Model {
    model_with(store, &Config::default())
}

pub fn model_with(store: &Store, config: &Config) -> Model {
    Model::compile(config, store).expect("model")
}
