//! Where a command's time goes: wall-clock seconds accumulated per named
//! phase (`wayfarer import --timings`).

use std::time::{Duration, Instant};

use serde::Serialize;

/// One phase and the wall-clock time spent in it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Phase {
    pub name: &'static str,
    pub seconds: f64,
}

/// Phases in the order first seen; time added to a phase accumulates.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
#[serde(transparent)]
pub struct Timings {
    phases: Vec<Phase>,
}

impl Timings {
    pub fn add(&mut self, name: &'static str, d: Duration) {
        let s = d.as_secs_f64();
        match self.phases.iter_mut().find(|p| p.name == name) {
            Some(p) => p.seconds += s,
            None => self.phases.push(Phase { name, seconds: s }),
        }
    }

    /// Runs `f`, adding its wall-clock time to `name`.
    pub fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.add(name, t.elapsed());
        out
    }

    /// Adds every phase of `other`.
    pub fn extend(&mut self, other: &Timings) {
        for p in &other.phases {
            self.add(p.name, Duration::from_secs_f64(p.seconds));
        }
    }

    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    pub fn is_empty(&self) -> bool {
        self.phases.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_accumulate_in_first_seen_order() {
        let mut t = Timings::default();
        t.add("decode", Duration::from_millis(300));
        t.add("sort", Duration::from_millis(100));
        t.add("decode", Duration::from_millis(200));
        let mut u = Timings::default();
        u.add("sort", Duration::from_millis(50));
        u.add("fsync", Duration::from_millis(10));
        t.extend(&u);
        let names: Vec<_> = t.phases().iter().map(|p| p.name).collect();
        assert_eq!(names, ["decode", "sort", "fsync"]);
        assert!((t.phases()[0].seconds - 0.5).abs() < 1e-9);
        assert!((t.phases()[1].seconds - 0.15).abs() < 1e-9);
        assert_eq!(t.time("x", || 7), 7);
        assert_eq!(t.phases().len(), 4);
    }
}
