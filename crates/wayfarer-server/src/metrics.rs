//! Server metrics in the Prometheus text format: counters of events
//! accepted, rejected, folded and replayed, and latency histograms of the
//! staging fsync and of queries. Owned by the server state (no globals).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// A latency histogram (cumulative buckets, sum and count, as Prometheus wants).
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ =
                writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}", self.counts[i].load(Ordering::Relaxed));
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {n}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {sum}\n{name}_count{braces} {n}");
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub ingested: AtomicU64,
    pub rejected: AtomicU64,
    pub requests_refused: AtomicU64,
    pub folded: AtomicU64,
    pub replayed: AtomicU64,
    pub fold_errors: AtomicU64,
    /// Staging appends or fsyncs that failed (their requests got 503).
    pub staging_errors: AtomicU64,
    pub events_total: AtomicU64,
    pub queries: AtomicU64,
    pub fsync: Histogram,
    pub query: Histogram,
    /// Dashboard page latency.
    pub page: Histogram,
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        };
        counter(&mut out, "wayfarer_ingested_events_total", "Events accepted and made durable.", &self.ingested);
        counter(&mut out, "wayfarer_rejected_events_total", "Messages rejected as invalid.", &self.rejected);
        counter(
            &mut out,
            "wayfarer_refused_requests_total",
            "Ingestion requests refused whole (auth, size, JSON).",
            &self.requests_refused,
        );
        counter(&mut out, "wayfarer_folded_events_total", "Staged events folded into the store.", &self.folded);
        counter(&mut out, "wayfarer_replayed_events_total", "Staged events replayed at start.", &self.replayed);
        counter(&mut out, "wayfarer_fold_errors_total", "Failed folds (retried).", &self.fold_errors);
        counter(
            &mut out,
            "wayfarer_staging_errors_total",
            "Staging appends that failed (answered 503, nothing kept).",
            &self.staging_errors,
        );
        counter(&mut out, "wayfarer_queries_total", "Query API requests answered.", &self.queries);
        let _ = writeln!(
            out,
            "# HELP wayfarer_store_events Events committed in the store.\n# TYPE wayfarer_store_events gauge\nwayfarer_store_events {}",
            self.events_total.load(Ordering::Relaxed)
        );
        self.fsync.render(
            &mut out,
            "wayfarer_staging_fsync_seconds",
            "Latency of the staging fsync (group commit).",
            "",
        );
        self.query.render(&mut out, "wayfarer_query_seconds", "Latency of query API requests.", "");
        self.page.render(&mut out, "wayfarer_page_seconds", "Server time of dashboard pages and exports.", "");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.ingested.fetch_add(5, Ordering::Relaxed);
        m.fsync.observe(Duration::from_micros(700));
        m.fsync.observe(Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains("wayfarer_ingested_events_total 5\n"), "{text}");
        assert!(text.contains("wayfarer_staging_fsync_seconds_bucket{le=\"0.001\"} 1\n"), "{text}");
        assert!(text.contains("wayfarer_staging_fsync_seconds_bucket{le=\"0.05\"} 2\n"), "{text}");
        assert!(text.contains("wayfarer_staging_fsync_seconds_count 2\n"), "{text}");
    }
}
