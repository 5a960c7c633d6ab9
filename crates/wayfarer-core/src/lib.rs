//! Wayfarer's vocabulary: the canonical event, the configuration schema (stage
//! model, touchpoints, channel rules, personas), the small predicate language
//! those rules are written in, timestamp parsing, and the table of error codes
//! shared by the CLI and the HTTP API, and the cancellation token long
//! computations check.
//!
//! This crate does no I/O; every later stage of the data flow depends on it:
//!
//! ```text
//!  core ─> ingest ─> store ─> models ─> engine ─> render ─> binary
//! ```

pub mod cancel;
pub mod config;
pub mod error;
pub mod event;
pub mod glob;
pub mod numbers;
pub mod pattern;
pub mod predicate;
pub mod suggest;
pub mod time;
pub mod timings;
pub mod triggers;
pub mod url;

pub use cancel::Cancel;
pub use config::Config;
pub use error::ErrorCode;
pub use event::{Event, Kind};
pub use timings::Timings;
