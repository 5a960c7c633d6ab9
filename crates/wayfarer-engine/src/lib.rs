//! The journey engine: everything Wayfarer computes is a fold over customer
//! timelines with a mergeable partial result (DESIGN §3):
//!
//! ```text
//!  partition rows ──> timelines ──fold──> Partial ─┐
//!  partition rows ──> timelines ──fold──> Partial ─┼─merge─> Partial ──finish──> Report
//!  …                                               ┘
//! ```
//!
//! Partitions are folded in parallel on a thread pool ([`fold::run`]); the
//! same contract lets a distributed engine fold partitions on other machines
//! and merge the partials. Modules: [`model`] (the compiled config),
//! [`timeline`] (per-customer facts: sessions, channels, stages, persona),
//! [`sessions`] (§4.2), [`journey`] (the journey map, §2, with pain points and
//! opportunities, §4.9).

pub mod attribution;
pub mod bootstrap;
pub mod clv;
pub mod customers;
pub mod discovery;
pub mod doctor;
pub mod facts;
pub mod fold;
pub mod funnel;
pub mod journey;
pub mod loyalty;
pub mod membership;
pub mod model;
pub mod nba;

pub mod graph;
pub mod path_match;
pub mod paths;
pub mod period;
pub mod personas;
pub mod profiles;
pub mod recommend;
pub mod referrals;
pub mod retention;
pub mod rfm;
pub mod segments;
pub mod sessions;
pub mod step_matrix;
pub mod surveys;
pub mod text;
pub mod timeline;
pub mod triggers;
pub mod window_funnel;

#[cfg(test)]
mod testutil;

use wayfarer_core::ErrorCode;
use wayfarer_store::StoreError;

pub use model::Model;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("{0}")]
    NotFound(String),
}

impl From<wayfarer_core::cancel::Cancelled> for EngineError {
    fn from(c: wayfarer_core::cancel::Cancelled) -> EngineError {
        EngineError::Store(StoreError::Cancelled(c))
    }
}

impl EngineError {
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::Store(e) => e.code(),
            EngineError::Config(_) => ErrorCode::ConfigInvalid,
            EngineError::InvalidQuery(_) => ErrorCode::InvalidQuery,
            EngineError::NotFound(_) => ErrorCode::NotFound,
        }
    }
}

/// What part of the data an analysis looks at.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only events at or after this instant (µs).
    pub from: Option<i64>,
    /// Only events before this instant (µs).
    pub to: Option<i64>,
    /// Only customers of this persona (by name).
    pub persona: Option<String>,
}

impl Scope {
    /// The same time window for every customer (the persona is applied by the caller).
    pub fn without_persona(&self) -> Scope {
        Scope { persona: None, ..self.clone() }
    }

    pub fn contains(&self, ts: i64) -> bool {
        self.from.is_none_or(|f| ts >= f) && self.to.is_none_or(|t| ts < t)
    }
}

/// What funnels and paths count: customers (each timeline once, the
/// default) or sessions (each of a timeline's sessions on its own, DESIGN
/// §4.2: a gap longer than the session timeout starts a new one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    #[default]
    Customers,
    Sessions,
}

impl Unit {
    pub fn parse(s: &str) -> Result<Unit, EngineError> {
        match s {
            "customer" | "customers" => Ok(Unit::Customers),
            "session" | "sessions" => Ok(Unit::Sessions),
            other => Err(EngineError::InvalidQuery(format!("--per '{other}': expected customer or session"))),
        }
    }

    /// The plural noun ("customers", "sessions").
    pub fn noun(self) -> &'static str {
        match self {
            Unit::Customers => "customers",
            Unit::Sessions => "sessions",
        }
    }

    pub fn is_customers(&self) -> bool {
        *self == Unit::Customers
    }
}

/// `a / b`, or `None` when `b` is 0 (a rate with no base).
pub(crate) fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}
