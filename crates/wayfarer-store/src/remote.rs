//! Where a query's folds run. A store handle may carry a [`FoldRunner`];
//! then the engine hands each of the query's folds to it instead of reading
//! partitions itself. A cluster client runs the fold on executors and
//! returns the merged partial; an executor replaying the query folds the
//! rows it was given, or merges the partials it was given, for the one fold
//! it was asked for. Partials cross as bytes the fold encodes, so this
//! crate knows no analysis.

use crate::{Col, PropertyRows, Rows, Store, StoreError};

/// The fold being run, as the runner sees it: it folds timelines and
/// merges partials, both encoded.
pub trait LocalFold {
    /// Which fold it is — its type, the columns it reads and a digest of
    /// its empty partial (which holds its groups and sizes): a replay checks
    /// it is at the same fold as the client.
    fn name(&self) -> String;
    /// Runs the fold over `store`'s own partitions, as without a runner:
    /// the merged partial, encoded.
    fn here(&self, store: &Store) -> Result<Vec<u8>, StoreError>;
    /// Folds the timelines of `rows` (those the store's customer filter
    /// admits) into a fresh partial, encoded.
    fn fold(&self, rows: &Rows) -> Result<Vec<u8>, StoreError>;
    /// Merges encoded partials into one, encoded.
    fn merge(&self, parts: &[Vec<u8>]) -> Result<Vec<u8>, StoreError>;
}

/// Runs a query's folds somewhere other than over this process's reads.
pub trait FoldRunner: Send + Sync + std::fmt::Debug {
    /// Runs the query's next fold over `store`'s data, reading `cols` (and
    /// the properties of `props`' rows): the merged partial of every
    /// customer, encoded.
    fn run(
        &self,
        store: &Store,
        cols: &[Col],
        props: &PropertyRows,
        local: &dyn LocalFold,
    ) -> Result<Vec<u8>, StoreError>;
}
