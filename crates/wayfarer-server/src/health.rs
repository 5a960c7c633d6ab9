//! The write path's health, for `/healthz` and `/metrics`: whether staging
//! can make events durable, whether folding works, and how far behind it is.
//!
//! `/healthz` answers 503 with the reasons when
//! - the last staging append failed (a full disk, an I/O error): ingestion
//!   is refused until an append succeeds again;
//! - folding failed [`FOLD_FAILURES_UNHEALTHY`] times in a row;
//! - the oldest acknowledged event not yet folded into the store was
//!   acknowledged more than [`LAG_UNHEALTHY`] ago (queries do not see it).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

/// Folding failed this many times in a row: unhealthy.
pub const FOLD_FAILURES_UNHEALTHY: u64 = 3;
/// Acknowledged events waiting longer than this to be folded: unhealthy.
pub const LAG_UNHEALTHY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Health {
    /// The last staging failure, while appends fail.
    staging_error: Mutex<Option<String>>,
    fold_failures: AtomicU64,
    last_fold_error: Mutex<Option<String>>,
    /// When the current staging file's first record was acknowledged (µs; 0: none).
    current_first_ack: AtomicI64,
    /// When the oldest sealed, not yet folded record was acknowledged (µs; 0: none).
    oldest_pending: AtomicI64,
    /// Staging files kept in `staging/damaged/`.
    pub damaged_files: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Health {
    pub fn staging_ok(&self) {
        let mut e = lock(&self.staging_error);
        if e.is_some() {
            *e = None;
        }
    }

    /// An append failed; `refusing` when the file could not be repaired yet.
    pub fn staging_failed(&self, message: &str, refusing: bool) {
        let note = if refusing { " (appends are refused until the staging file is repaired)" } else { "" };
        *lock(&self.staging_error) = Some(format!("{message}{note}"));
    }

    pub fn fold_ok(&self) {
        self.fold_failures.store(0, Ordering::Relaxed);
        *lock(&self.last_fold_error) = None;
    }

    pub fn fold_failed(&self, message: &str) {
        self.fold_failures.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_fold_error) = Some(message.to_string());
    }

    pub fn set_current_first_ack(&self, micros: i64) {
        self.current_first_ack.store(micros, Ordering::Relaxed);
    }

    pub fn set_oldest_pending(&self, micros: i64) {
        self.oldest_pending.store(micros, Ordering::Relaxed);
    }

    /// Seconds since the oldest acknowledged event not yet folded was acknowledged.
    pub fn lag_seconds(&self, now: i64) -> f64 {
        let oldest = [self.current_first_ack.load(Ordering::Relaxed), self.oldest_pending.load(Ordering::Relaxed)]
            .into_iter()
            .filter(|t| *t > 0)
            .min();
        oldest.map_or(0.0, |t| (now - t).max(0) as f64 / 1e6)
    }

    /// Whether the server is healthy, and the `/healthz` body.
    pub fn report(&self, now: i64) -> (bool, Value) {
        let mut reasons = Vec::new();
        if let Some(e) = lock(&self.staging_error).as_ref() {
            reasons.push(format!("staging: {e}"));
        }
        let failures = self.fold_failures.load(Ordering::Relaxed);
        let last = lock(&self.last_fold_error).clone();
        if failures >= FOLD_FAILURES_UNHEALTHY {
            reasons.push(format!(
                "folding failed {failures} times in a row: {}",
                last.as_deref().unwrap_or("unknown error")
            ));
        }
        let lag = self.lag_seconds(now);
        if lag > LAG_UNHEALTHY.as_secs_f64() {
            reasons.push(format!(
                "acknowledged events have waited {lag:.0} s to be folded into the store (more than {} s)",
                LAG_UNHEALTHY.as_secs()
            ));
        }
        let healthy = reasons.is_empty();
        let damaged = self.damaged_files.load(Ordering::Relaxed);
        let mut body = json!({
            "status": if healthy { "ok" } else { "unhealthy" },
            "staging": {
                "lag_seconds": (lag * 1000.0).round() / 1000.0,
                "fold_failures_in_a_row": failures,
                "last_fold_error": last,
                "damaged_files": damaged,
            },
        });
        if !healthy {
            body["reasons"] = json!(reasons);
        }
        if damaged > 0 {
            body["warnings"] = json!([format!(
                "{damaged} staging file(s) held unreadable bytes; their intact records are committed and the files are kept in staging/damaged/"
            )]);
        }
        (healthy, body)
    }

    /// Gauges for `/metrics`.
    pub fn render(&self, now: i64) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP wayfarer_staging_lag_seconds Age of the oldest acknowledged event not yet folded into the store.\n\
             # TYPE wayfarer_staging_lag_seconds gauge\nwayfarer_staging_lag_seconds {}",
            self.lag_seconds(now)
        );
        let _ = writeln!(
            out,
            "# HELP wayfarer_fold_failures_in_a_row Consecutive failed folds (0 when the last one worked).\n\
             # TYPE wayfarer_fold_failures_in_a_row gauge\nwayfarer_fold_failures_in_a_row {}",
            self.fold_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP wayfarer_staging_damaged_files Staging files kept in staging/damaged/.\n\
             # TYPE wayfarer_staging_damaged_files gauge\nwayfarer_staging_damaged_files {}",
            self.damaged_files.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhealthy_for_each_reason_and_healthy_again() {
        let h = Health::default();
        let now = 1_000_000_000_000;
        assert!(h.report(now).0);
        h.staging_failed("No space left on device", true);
        let (ok, body) = h.report(now);
        assert!(!ok);
        assert!(body["reasons"][0].as_str().unwrap().contains("No space left"), "{body}");
        h.staging_ok();
        assert!(h.report(now).0);
        for _ in 0..FOLD_FAILURES_UNHEALTHY {
            h.fold_failed("Too many open files");
        }
        let (ok, body) = h.report(now);
        assert!(!ok && body["reasons"][0].as_str().unwrap().contains("3 times in a row"), "{body}");
        h.fold_ok();
        h.set_oldest_pending(now - 61_000_000);
        h.set_current_first_ack(now - 1_000_000);
        assert!((h.lag_seconds(now) - 61.0).abs() < 1e-9);
        let (ok, body) = h.report(now);
        assert!(!ok && body["reasons"][0].as_str().unwrap().contains("61 s"), "{body}");
        h.set_oldest_pending(0);
        assert!(h.report(now).0);
    }
}
