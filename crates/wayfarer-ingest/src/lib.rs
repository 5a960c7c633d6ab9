//! Ingestion: turning what customers' tools send into canonical events.
//!
//! ```text
//!  file / HTTP body ──> records ──> decode (Segment message | flat row)
//!                                     │  validate: names record, field, reason
//!                                     ▼
//!                      canonical Event (+ channel derived) ──> store
//! ```
//!
//! This crate owns the Segment protocol (messages, batches and their shared
//! context, limits, per-message rejection with codes), the Segment-spec and
//! flat-file decoders, file format
//! detection and reading (CSV, NDJSON, Parquet), and channel derivation (GA4
//! default channel grouping plus the config's custom rules). It does no HTTP
//! and writes nothing: the store decides what is kept.

pub mod channels;
pub mod decode;
pub mod derive;
pub mod files;
pub mod segment;
mod typed;

pub use decode::{Decoder, FieldError};
pub use files::{Chunk, FileStats, Format, Gather, ImportError, Listed, Reject, estimate_records, read_file};
