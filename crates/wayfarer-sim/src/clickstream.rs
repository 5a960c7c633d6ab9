//! A second shape of data for benchmarks: a heavy-tailed e-commerce
//! clickstream, unlike the synthetic company. Each customer has a number of
//! sessions drawn from a Pareto law (α = 1.2, so a few customers have
//! thousands of sessions and most have one or two); each session walks a
//! Markov chain over 30 of Segment's e-commerce event names (page → product
//! list → product → cart → checkout → order, with side paths: search,
//! wishlists, coupons, reviews, sign-ins, promotions), with gaps rounded to
//! whole seconds, so many events share a timestamp. Each session comes
//! through one of 8 channels, the customer's favourite more often than not.
//! Rows are written in batches of about a million events, shuffled within
//! each batch, so the file is in no useful order.
//!
//! The table has the benchmark columns (event_id, customer_id, timestamp,
//! event, revenue) and a `channel` column. Generation is deterministic for
//! a seed: customer i draws from its own stream.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use crate::SimError;
use crate::rng::Rng;

/// The event names (Segment's e-commerce spec and a few common others).
pub const EVENTS: [&str; 30] = [
    "Page Viewed",
    "Products Searched",
    "Product List Viewed",
    "Product List Filtered",
    "Product Clicked",
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Viewed",
    "Checkout Step Completed",
    "Payment Info Entered",
    "Order Completed",
    "Order Updated",
    "Order Refunded",
    "Order Cancelled",
    "Coupon Entered",
    "Coupon Applied",
    "Coupon Denied",
    "Promotion Viewed",
    "Promotion Clicked",
    "Product Added to Wishlist",
    "Wishlist Product Added to Cart",
    "Product Shared",
    "Product Reviewed",
    "Signed In",
    "Signed Up",
    "Email Link Clicked",
    "Application Opened",
];

/// The channels sessions come through.
pub const CHANNELS: [&str; 8] =
    ["Direct", "Organic Search", "Paid Search", "Email", "Paid Social", "Organic Social", "Referral", "Display"];

const PAGE: usize = 0;
const ORDER: usize = 13;
/// Pseudo-state: the session ends.
const EXIT: usize = usize::MAX;

/// The next event after `from` (or EXIT), as (event, weight) pairs.
fn next(from: usize) -> &'static [(usize, f64)] {
    match from {
        0 => &[(2, 3.0), (5, 3.0), (1, 2.0), (20, 1.0), (26, 0.5), (0, 2.0), (EXIT, 3.0)],
        1 => &[(2, 4.0), (5, 3.0), (1, 1.0), (EXIT, 2.0)],
        2 => &[(4, 4.0), (3, 1.5), (5, 2.0), (2, 1.0), (EXIT, 2.5)],
        3 => &[(4, 3.0), (2, 1.0), (EXIT, 1.0)],
        4 => &[(5, 1.0)],
        5 => &[(6, 2.0), (5, 2.5), (2, 1.5), (22, 0.6), (24, 0.2), (25, 0.15), (1, 0.8), (EXIT, 3.0)],
        6 => &[(8, 3.0), (5, 2.0), (9, 1.2), (EXIT, 1.5)],
        7 => &[(8, 1.0), (5, 1.0), (EXIT, 1.0)],
        8 => &[(9, 3.0), (7, 0.8), (5, 1.0), (17, 0.5), (EXIT, 2.0)],
        9 => &[(10, 4.0), (12, 1.0), (17, 0.5), (EXIT, 1.5)],
        10 => &[(11, 5.0), (EXIT, 1.0)],
        11 => &[(12, 3.0), (10, 1.0), (EXIT, 1.0)],
        12 => &[(13, 3.5), (12, 0.4), (EXIT, 1.6)],
        13 => &[(14, 0.3), (16, 0.1), (0, 1.0), (EXIT, 4.0)],
        14 => &[(EXIT, 1.0)],
        15 => &[(EXIT, 1.0)],
        16 => &[(15, 0.5), (EXIT, 1.0)],
        17 => &[(18, 2.0), (19, 1.0)],
        18 => &[(9, 2.0), (12, 1.0), (EXIT, 0.5)],
        19 => &[(17, 0.8), (9, 1.0), (EXIT, 1.2)],
        20 => &[(21, 1.0), (0, 2.0), (EXIT, 1.0)],
        21 => &[(2, 2.0), (5, 1.0)],
        22 => &[(23, 0.6), (5, 1.5), (EXIT, 1.0)],
        23 => &[(8, 1.0)],
        24 | 25 => &[(5, 1.0), (EXIT, 1.0)],
        26 => &[(0, 2.0), (5, 1.0), (27, 0.2)],
        27 => &[(0, 1.0)],
        28 => &[(0, 2.0), (5, 2.0)],
        29 => &[(0, 1.0), (2, 1.0), (1, 1.0)],
        _ => &[(EXIT, 1.0)],
    }
}

/// The first event of a session through `channel`.
fn first(rng: &mut Rng, channel: usize, app: bool) -> usize {
    if app {
        return 29;
    }
    match channel {
        3 if rng.chance(0.7) => 28,
        1 | 2 if rng.chance(0.5) => 1,
        _ => PAGE,
    }
}

/// One generated event.
#[derive(Debug, Clone, Copy)]
struct Row {
    customer: u32,
    ts: i64,
    event: u8,
    channel: u8,
    revenue: f64,
}

/// Events per customer on average (for sizing).
const EVENTS_PER_CUSTOMER: f64 = 22.0;
/// Sessions of one customer are capped (the heaviest has thousands).
const MAX_SESSIONS: f64 = 12_000.0;
/// Events per session are capped (a runaway walk).
const MAX_SESSION_EVENTS: usize = 200;

fn customer(seed: u64, c: u32, start: i64, span: i64, out: &mut Vec<Row>) {
    let mut rng = Rng::stream(seed ^ 0xC11C_5772_EA11, c as u64);
    // Pareto(α = 1.2, x_m = 1) sessions.
    let sessions = (rng.f64().max(1e-12).powf(-1.0 / 1.2)).min(MAX_SESSIONS) as usize;
    let favourite = rng.weighted(&[4.0, 3.0, 2.0, 1.5, 1.5, 1.0, 0.7, 0.5]);
    let app = rng.chance(0.25);
    // Active from some day of the window, sessions spread after it.
    let begin = start + (rng.f64() * 0.8 * span as f64) as i64;
    let active = (start + span - begin).max(1);
    for _ in 0..sessions.max(1) {
        let mut ts = begin + (rng.f64() * active as f64) as i64;
        ts -= ts % 1_000_000;
        let channel = if rng.chance(0.6) { favourite } else { rng.below(CHANNELS.len()) };
        let in_app = app && rng.chance(0.7);
        let mut e = first(&mut rng, channel, in_app);
        for _ in 0..MAX_SESSION_EVENTS {
            let revenue = if e == ORDER { rng.lognormal(60.0, 0.7) } else { f64::NAN };
            out.push(Row { customer: c, ts, event: e as u8, channel: channel as u8, revenue });
            let options = next(e);
            let weights: Vec<f64> = options.iter().map(|o| o.1).collect();
            let n = options[rng.weighted(&weights)].0;
            if n == EXIT {
                break;
            }
            e = n;
            // Whole seconds: a quarter of steps land in the same second.
            let gap = if rng.chance(0.25) { 0.0 } else { rng.exp(35.0).round() };
            ts += (gap as i64) * 1_000_000;
        }
    }
}

/// Writes about `events` events of the clickstream to a Parquet file;
/// returns the rows written.
pub fn write_clickstream(path: &Path, events: u64, seed: u64, days: u32) -> Result<u64, SimError> {
    let start = 1_735_689_600_000_000; // 2025-01-01T00:00:00Z
    let span = days.max(1) as i64 * 86_400_000_000;
    let customers = ((events as f64 / EVENTS_PER_CUSTOMER) as u32).max(1);
    let mut fields = crate::output::bench_fields();
    fields.push(Field::new("channel", DataType::Utf8, false));
    let schema = Arc::new(Schema::new(fields));
    let io = |e: std::io::Error| SimError::Io { path: path.to_path_buf(), source: e };
    let pq = |source: parquet::errors::ParquetError| SimError::Parquet { path: path.to_path_buf(), source };
    let arrow = |source: arrow_schema::ArrowError| SimError::Arrow { path: path.to_path_buf(), source };
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(File::create(path).map_err(io)?, schema.clone(), Some(props)).map_err(pq)?;
    // Customers in a shuffled order, in groups of about a million events.
    let mut order: Vec<u32> = (0..customers).collect();
    let mut rng = Rng::stream(seed, u64::MAX);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let group = ((1_000_000.0 / EVENTS_PER_CUSTOMER) as usize).max(1);
    let mut written = 0u64;
    for (g, ids) in order.chunks(group).enumerate() {
        if written >= events {
            break;
        }
        let mut rows: Vec<Row> = ids
            .par_iter()
            .map(|&c| {
                let mut v = Vec::new();
                customer(seed, c, start, span, &mut v);
                v
            })
            .flatten()
            .collect();
        rows.truncate((events - written) as usize);
        let mut shuffle = Rng::stream(seed ^ 0x5AFF1E, g as u64);
        for i in (1..rows.len()).rev() {
            rows.swap(i, shuffle.below(i + 1));
        }
        for chunk in rows.chunks(256 * 1024) {
            let mut id = Int64Builder::with_capacity(chunk.len());
            let mut cust = Int64Builder::with_capacity(chunk.len());
            let mut ts = TimestampMicrosecondBuilder::with_capacity(chunk.len()).with_timezone("UTC");
            let mut event = StringBuilder::with_capacity(chunk.len(), chunk.len() * 14);
            let mut revenue = Float64Builder::with_capacity(chunk.len());
            let mut channel = StringBuilder::with_capacity(chunk.len(), chunk.len() * 10);
            for r in chunk {
                id.append_value(written as i64);
                written += 1;
                cust.append_value(r.customer as i64);
                ts.append_value(r.ts);
                event.append_value(EVENTS[r.event as usize]);
                revenue.append_option((!r.revenue.is_nan()).then_some((r.revenue * 100.0).round() / 100.0));
                channel.append_value(CHANNELS[r.channel as usize]);
            }
            let cols: Vec<ArrayRef> = vec![
                Arc::new(id.finish()),
                Arc::new(cust.finish()),
                Arc::new(ts.finish()),
                Arc::new(event.finish()),
                Arc::new(revenue.finish()),
                Arc::new(channel.finish()),
            ];
            writer.write(&RecordBatch::try_new(schema.clone(), cols).map_err(arrow)?).map_err(pq)?;
        }
    }
    writer.close().map_err(pq)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_is_heavy_tailed_and_every_walk_ends() {
        let mut per: Vec<usize> = (0..20_000)
            .map(|c| {
                let mut v = Vec::new();
                customer(3, c, 0, 365 * 86_400_000_000, &mut v);
                assert!(v.iter().all(|r| (r.event as usize) < EVENTS.len()));
                v.len()
            })
            .collect();
        per.sort_unstable();
        let total: usize = per.iter().sum();
        let mean = total as f64 / per.len() as f64;
        let median = per[per.len() / 2];
        let top = per[per.len() - 1];
        assert!((10.0..40.0).contains(&mean), "mean {mean}");
        assert!(median * 3 < mean as usize + 1 || (median as f64) < mean, "median {median} below the mean {mean}");
        assert!(top as f64 > 100.0 * mean, "the heaviest customer {top} against a mean of {mean}");
        // Every name occurs.
        let mut seen = [false; 30];
        for c in 0..2000 {
            let mut v = Vec::new();
            customer(5, c, 0, 1, &mut v);
            for r in v {
                seen[r.event as usize] = true;
            }
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }
}
