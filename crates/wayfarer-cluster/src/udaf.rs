//! The two aggregate UDFs. `wayfarer_fold(job, customer, timestamp, seq,
//! event_code, channel_code, kind_code, revenue, …)` gathers the rows of its
//! group — whole customers, as groups are by customer number — and folds
//! them into one partial; `wayfarer_merge(job, partial)` merges partials.
//! Both carry their parameters as the literal first argument (the [`Job`],
//! as JSON), so a plan serialises with no extension codec, and both answer
//! through the [`Replay`] the executor registered them with: the scheduler
//! and the client only plan with them.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BinaryArray, RecordBatch, cast::AsArray};
use arrow_schema::{DataType, Field, FieldRef, Schema};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;
use serde::{Deserialize, Serialize};
use wayfarer_store::Rows;

use crate::replay::{Replay, ReplayRunner, Work};

pub const FOLD: &str = "wayfarer_fold";
pub const MERGE: &str = "wayfarer_merge";

/// What an executor needs to run one fold of a query.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Job {
    /// The data directory (the path every machine mounts it at).
    pub dir: String,
    /// The store generation the client read: an executor that opens
    /// another refuses (the data changed under the query).
    pub generation: u64,
    /// The command line, every option explicit, without `--cluster`.
    pub argv: Vec<String>,
    /// Which of the query's folds (0 = its first).
    pub call: usize,
    /// The folds the client ran up to this one (their types), in order.
    pub folds: Vec<String>,
    /// The merged partials of the query's earlier folds, as files under
    /// the data directory's `cluster/`.
    pub priors: Vec<String>,
    /// The segment columns `wayfarer_fold` is called with, after the job.
    pub columns: Vec<String>,
    /// The store's partitions: rows are grouped by `customer % partitions`.
    pub partitions: u32,
    /// The client's Wayfarer version: an executor of another refuses.
    pub version: String,
}

impl Job {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn exec_err(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// The job an aggregate was called with: its literal first argument.
fn job_of(args: &AccumulatorArgs<'_>) -> Result<Job> {
    let lit = args.exprs.first().and_then(|e| e.downcast_ref::<Literal>());
    let Some(ScalarValue::Utf8(Some(json)) | ScalarValue::LargeUtf8(Some(json)) | ScalarValue::Utf8View(Some(json))) =
        lit.map(Literal::value)
    else {
        return Err(exec_err("the first argument of a wayfarer aggregate must be its job, a literal string"));
    };
    serde_json::from_str(json).map_err(|e| exec_err(format!("the job of a wayfarer aggregate: {e}")))
}

/// The two functions, answering through `replay` (`None`: planning only).
pub fn functions(replay: Option<Arc<dyn Replay>>) -> [Arc<AggregateUDF>; 2] {
    [
        Arc::new(AggregateUDF::from(WayfarerUdaf::new(FOLD, replay.clone()))),
        Arc::new(AggregateUDF::from(WayfarerUdaf::new(MERGE, replay))),
    ]
}

#[derive(Debug)]
struct WayfarerUdaf {
    name: &'static str,
    signature: Signature,
    replay: Option<Arc<dyn Replay>>,
}

impl WayfarerUdaf {
    fn new(name: &'static str, replay: Option<Arc<dyn Replay>>) -> WayfarerUdaf {
        WayfarerUdaf { name, signature: Signature::variadic_any(Volatility::Immutable), replay }
    }
}

impl PartialEq for WayfarerUdaf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for WayfarerUdaf {}

impl std::hash::Hash for WayfarerUdaf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl AggregateUDFImpl for WayfarerUdaf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let job = job_of(&args)?;
        let Some(replay) = self.replay.clone() else {
            return Err(exec_err(format!("{} runs on a Wayfarer executor (wayfarer cluster executor)", self.name)));
        };
        if self.name == FOLD {
            let fields: Vec<FieldRef> = args.expr_fields.iter().skip(1).cloned().collect();
            if fields.len() != job.columns.len() {
                return Err(exec_err(format!("{FOLD}: {} columns for {} names", fields.len(), job.columns.len())));
            }
            Ok(Box::new(FoldAcc { job, replay, fields, columns: Vec::new() }))
        } else {
            Ok(Box::new(MergeAcc { job, replay, parts: Vec::new() }))
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if self.name == FOLD {
            // The rows gathered so far, one list per column.
            Ok(args
                .input_fields
                .iter()
                .enumerate()
                .skip(1)
                .map(|(i, f)| {
                    let item = Field::new("item", f.data_type().clone(), true);
                    Arc::new(Field::new(format!("rows_{i}"), DataType::List(Arc::new(item)), true))
                })
                .collect())
        } else {
            // The partials gathered so far, each tagged with its partition.
            let item = Arc::new(Field::new("item", DataType::Binary, true));
            Ok(vec![Arc::new(Field::new("partials", DataType::List(item), true))])
        }
    }
}

/// Gathers rows (column by column, as the batches came) and folds them.
#[derive(Debug)]
struct FoldAcc {
    job: Job,
    replay: Arc<dyn Replay>,
    fields: Vec<FieldRef>,
    /// Per column, the arrays gathered.
    columns: Vec<Vec<ArrayRef>>,
}

impl FoldAcc {
    fn push(&mut self, arrays: impl Iterator<Item = ArrayRef>) {
        if self.columns.is_empty() {
            self.columns = vec![Vec::new(); self.fields.len()];
        }
        for (c, a) in self.columns.iter_mut().zip(arrays) {
            c.push(a);
        }
    }

    /// Each column's gathered arrays as one.
    fn concatenated(&self) -> Result<Vec<ArrayRef>> {
        self.fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let parts: Vec<&dyn Array> =
                    self.columns.get(i).map(|c| c.iter().map(|a| a.as_ref()).collect()).unwrap_or_default();
                if parts.is_empty() {
                    return Ok(arrow_array::new_empty_array(f.data_type()));
                }
                arrow_select::concat::concat(&parts).map_err(exec_err)
            })
            .collect()
    }
}

impl Accumulator for FoldAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.push(values.iter().skip(1).cloned());
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let mut arrays = Vec::with_capacity(states.len());
        for s in states {
            let list = s.as_list_opt::<i32>().ok_or_else(|| exec_err(format!("{FOLD}: state is not a list")))?;
            let values: Vec<ArrayRef> = (0..list.len()).filter(|&i| list.is_valid(i)).map(|i| list.value(i)).collect();
            let parts: Vec<&dyn Array> = values.iter().map(|a| a.as_ref()).collect();
            arrays.push(if parts.is_empty() {
                arrow_array::new_empty_array(&list.value_type())
            } else {
                arrow_select::concat::concat(&parts).map_err(exec_err)?
            });
        }
        self.push(arrays.into_iter());
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self
            .concatenated()?
            .into_iter()
            .map(|a| {
                let item = Arc::new(Field::new("item", a.data_type().clone(), true));
                let offsets = datafusion::arrow::buffer::OffsetBuffer::from_lengths([a.len()]);
                ScalarValue::List(Arc::new(arrow_array::ListArray::new(item, offsets, a, None)))
            })
            .collect())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let arrays = self.concatenated()?;
        let fields: Vec<Field> = self
            .job
            .columns
            .iter()
            .zip(&arrays)
            .map(|(n, a)| Field::new(n.as_str(), a.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(exec_err)?;
        let batch = segment_types(&batch)?;
        let rows = Rows::from_batch(&batch).map_err(exec_err)?;
        let partition = rows.customers.first().map_or(0, |c| c % self.job.partitions.max(1));
        let bytes =
            ReplayRunner::execute(self.replay.as_ref(), &self.job, Work::Fold(Box::new(rows))).map_err(exec_err)?;
        let mut tagged = partition.to_le_bytes().to_vec();
        tagged.extend(bytes);
        Ok(ScalarValue::Binary(Some(tagged)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.columns.iter().flatten().map(|a| a.get_array_memory_size()).sum::<usize>()
    }
}

/// The batch with text columns as `Utf8` (a scan may give views), as the
/// store's readers give them.
fn segment_types(batch: &RecordBatch) -> Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let c = match c.data_type() {
            DataType::Utf8View | DataType::LargeUtf8 => {
                datafusion::arrow::compute::cast(c, &DataType::Utf8).map_err(exec_err)?
            }
            DataType::Dictionary(_, v) if matches!(v.as_ref(), DataType::Utf8 | DataType::Utf8View) => {
                datafusion::arrow::compute::cast(c, &DataType::Utf8).map_err(exec_err)?
            }
            _ => c.clone(),
        };
        fields.push(Field::new(f.name(), c.data_type().clone(), true));
        columns.push(c);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(exec_err)
}

/// Gathers tagged partials; merges them in partition order, once, when
/// asked for the result.
#[derive(Debug)]
struct MergeAcc {
    job: Job,
    replay: Arc<dyn Replay>,
    parts: Vec<Vec<u8>>,
}

impl MergeAcc {
    fn take(&mut self, a: &dyn Array) -> Result<()> {
        let b: &BinaryArray = a.as_binary_opt::<i32>().ok_or_else(|| exec_err(format!("{MERGE}: not binary")))?;
        self.parts.extend(b.iter().flatten().map(<[u8]>::to_vec));
        Ok(())
    }
}

impl Accumulator for MergeAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values.get(1) {
            Some(a) => self.take(a.as_ref()),
            None => Err(exec_err(format!("{MERGE}: no partial argument"))),
        }
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(list) = states.first() else { return Ok(()) };
        let list = list.as_list_opt::<i32>().ok_or_else(|| exec_err(format!("{MERGE}: state is not a list")))?;
        for i in (0..list.len()).filter(|&i| list.is_valid(i)) {
            self.take(list.value(i).as_ref())?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: ArrayRef = Arc::new(BinaryArray::from_iter_values(&self.parts));
        let item = Arc::new(Field::new("item", DataType::Binary, true));
        let offsets = datafusion::arrow::buffer::OffsetBuffer::from_lengths([values.len()]);
        Ok(vec![ScalarValue::List(Arc::new(arrow_array::ListArray::new(item, offsets, values, None)))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut tagged: Vec<(u32, &[u8])> = Vec::with_capacity(self.parts.len());
        for p in &self.parts {
            let (tag, payload) =
                p.split_first_chunk::<4>().ok_or_else(|| exec_err(format!("{MERGE}: a partial without its tag")))?;
            tagged.push((u32::from_le_bytes(*tag), payload));
        }
        tagged.sort_by_key(|t| t.0);
        if tagged.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(exec_err(format!("{MERGE}: two partials of one partition")));
        }
        let ordered: Vec<Vec<u8>> = tagged.into_iter().map(|t| t.1.to_vec()).collect();
        let bytes = ReplayRunner::execute(self.replay.as_ref(), &self.job, Work::Merge(ordered)).map_err(exec_err)?;
        Ok(ScalarValue::Binary(Some(bytes)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.parts.iter().map(Vec::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use wayfarer_store::remote::FoldRunner;

    /// Records what the aggregates hand to the replay: the partials a merge
    /// gets, in order, and the customers a fold gets.
    #[derive(Debug, Default)]
    struct Recorder {
        merged: Mutex<Vec<Vec<Vec<u8>>>>,
        folded: Mutex<Vec<Vec<u32>>>,
    }

    #[derive(Debug)]
    struct Shared(Arc<Recorder>);

    impl Replay for Shared {
        fn run(&self, _argv: &[String], runner: Arc<dyn FoldRunner>) -> std::result::Result<(), String> {
            // What a command does: open a store and run a fold through the runner.
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let mut w = wayfarer_store::Writer::open(dir.path(), 0).map_err(|e| e.to_string())?;
            let mut e = wayfarer_core::Event::new("e", 1, "x");
            e.user_id = Some("u".into());
            w.add(vec![e]).map_err(|e| e.to_string())?;
            w.commit().map_err(|e| e.to_string())?;
            let store = wayfarer_store::Store::open(dir.path()).map_err(|e| e.to_string())?;
            struct Local(Arc<Recorder>);
            impl wayfarer_store::remote::LocalFold for Local {
                fn name(&self) -> String {
                    "test".into()
                }
                fn here(&self, _: &wayfarer_store::Store) -> std::result::Result<Vec<u8>, wayfarer_store::StoreError> {
                    Ok(Vec::new())
                }
                fn fold(&self, rows: &Rows) -> std::result::Result<Vec<u8>, wayfarer_store::StoreError> {
                    self.0.folded.lock().unwrap().push(rows.customers.clone());
                    Ok(b"folded".to_vec())
                }
                fn merge(&self, parts: &[Vec<u8>]) -> std::result::Result<Vec<u8>, wayfarer_store::StoreError> {
                    self.0.merged.lock().unwrap().push(parts.to_vec());
                    Ok(parts.concat())
                }
            }
            runner
                .run(&store, &[], &wayfarer_store::PropertyRows::All, &Local(self.0.clone()))
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }

    fn job() -> Job {
        Job {
            dir: "/".into(),
            generation: 1,
            argv: vec![],
            call: 0,
            folds: vec!["test".into()],
            priors: vec![],
            columns: vec![],
            partitions: 16,
            version: crate::VERSION.to_string(),
        }
    }

    #[test]
    fn partials_merge_in_partition_order_whatever_order_they_arrive_in() {
        let rec = Arc::new(Recorder::default());
        let mut acc = MergeAcc { job: job(), replay: Arc::new(Shared(rec.clone())), parts: Vec::new() };
        let tagged = |p: u32, body: &str| {
            let mut v = p.to_le_bytes().to_vec();
            v.extend(body.as_bytes());
            v
        };
        let a: ArrayRef = Arc::new(BinaryArray::from_iter_values([tagged(7, "g"), tagged(0, "a")]));
        acc.update_batch(&[a.clone(), a]).unwrap();
        // Another task's state, merged in.
        let mut other = MergeAcc { job: job(), replay: Arc::new(Shared(rec.clone())), parts: Vec::new() };
        let b: ArrayRef = Arc::new(BinaryArray::from_iter_values([tagged(3, "d")]));
        other.update_batch(&[b.clone(), b]).unwrap();
        let state = other.state().unwrap()[0].to_array().unwrap();
        acc.merge_batch(&[state]).unwrap();
        let ScalarValue::Binary(Some(out)) = acc.evaluate().unwrap() else { panic!("not binary") };
        assert_eq!(out, b"adg");
        assert_eq!(rec.merged.lock().unwrap()[0], vec![b"a".to_vec(), b"d".to_vec(), b"g".to_vec()]);
        // Two partials of one partition are an error, never a double count.
        let c: ArrayRef = Arc::new(BinaryArray::from_iter_values([tagged(3, "d")]));
        acc.update_batch(&[c.clone(), c]).unwrap();
        assert!(acc.evaluate().unwrap_err().to_string().contains("two partials of one partition"));
    }
}
