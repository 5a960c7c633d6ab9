//! `wayfarer import`: files → decode → writer → one atomic commit.
//!
//! Every file is checked before anything is written, so an unreadable file
//! leaves the data directory unchanged. Malformed records are skipped,
//! reported (file, line, field, reason) and written to a rejects file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wayfarer_core::{Config, Event};
use wayfarer_ingest::derive::ChannelDeriver;
use wayfarer_ingest::files::{Chunk, FileStats, check_file};
use wayfarer_ingest::{Decoder, Format, Gather, Reject, estimate_records, read_file};
use wayfarer_store::{CommitStats, EventRows, EventRowsBuilder, TextSizes, Writer};

use crate::cli::{Global, ImportArgs, InputFormat};
use crate::progress::{Progress, done};

/// How many rejects are printed to the terminal (all go to the rejects file).
const SHOWN_REJECTS: usize = 10;

#[derive(Debug, Default, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub format: String,
    pub records: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub files: Vec<FileSummary>,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub events_total: u64,
    pub rejects_file: Option<String>,
    pub rows_moved: u64,
    /// Where the time went, by phase (phases run on several threads are
    /// summed over them).
    pub timings: wayfarer_core::Timings,
    /// Wall-clock seconds of reading, decoding and committing.
    pub seconds: f64,
    /// Set when the store's event names mostly match no stage rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

pub fn run(g: &Global, args: &ImportArgs, progress: Progress) -> Result<()> {
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    let (config, _) = super::load_config(g, &dir)?;
    let format = args.format.map(|f| match f {
        InputFormat::Csv => Format::Csv,
        InputFormat::Ndjson => Format::Ndjson,
        InputFormat::Parquet => Format::Parquet,
    });
    let mut summary = import_files(&dir, &config, &args.files, format, args.rejects.clone(), progress)?;
    if summary.events_total > 0 {
        let store = wayfarer_store::Store::open(&dir)?;
        // The events are committed: a configuration that does not fit them
        // (a property or event it names is not in the data) is said, not
        // made the import's error.
        summary.hint = match wayfarer_engine::model::Model::compile(&config, &store) {
            Ok(model) => wayfarer_engine::doctor::import_hint(&model),
            Err(e) => Some(format!(
                "The events are imported, but the configuration does not fit them: {e}. Fix it, then run `wayfarer doctor`."
            )),
        };
    }
    if args.json {
        say!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary)?;
        if args.timings {
            print_timings(&summary)?;
        }
    }
    Ok(())
}

/// The phases of an import and their share of its wall-clock time.
fn print_timings(s: &ImportSummary) -> Result<()> {
    let rate = if s.seconds > 0.0 { s.accepted as f64 / s.seconds } else { 0.0 };
    say!(
        "\nWhere the time went: {:.2} s wall clock, {} events/s (phases on several threads are summed over them)",
        s.seconds,
        wayfarer_render::count(rate.round() as u64)
    );
    let width = s.timings.phases().iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in s.timings.phases() {
        let share = if s.seconds > 0.0 { 100.0 * p.seconds / s.seconds } else { 0.0 };
        say!("  {:<width$}  {:>8.2} s  {:>5.1} %", p.name, p.seconds, share);
    }
    Ok(())
}

pub fn print_summary(s: &ImportSummary) -> Result<()> {
    for f in &s.files {
        say!(
            "{}: {}, {} accepted, {} duplicates skipped, {} rejected",
            f.file,
            wayfarer_render::counted(f.records, "record"),
            wayfarer_render::count(f.accepted),
            wayfarer_render::count(f.duplicates),
            wayfarer_render::count(f.rejected)
        );
    }
    say!(
        "Imported {} ({} duplicates skipped, {} rejected); the store now holds {}.",
        wayfarer_render::counted(s.accepted, "new event"),
        wayfarer_render::count(s.duplicates),
        wayfarer_render::count(s.rejected),
        wayfarer_render::counted(s.events_total, "event")
    );
    if let Some(r) = &s.rejects_file {
        say!("Rejected records were written to {r}");
    }
    if let Some(h) = &s.hint {
        say!("\n{h}");
    }
    Ok(())
}

/// Imports files into the data directory in one commit.
pub fn import_files(
    dir: &Path,
    config: &Config,
    files: &[PathBuf],
    format: Option<Format>,
    rejects_path: Option<PathBuf>,
    progress: Progress,
) -> Result<ImportSummary> {
    let started = std::time::Instant::now();
    let mut times = wayfarer_core::Timings::default();
    // Check every file first: nothing is written if one cannot be read.
    let mut plan = Vec::new();
    for f in files {
        let Some(fmt) = format.or_else(|| Format::from_path(f)) else {
            bail!(wayfarer_ingest::ImportError::UnknownFormat { file: f.display().to_string() })
        };
        check_file(f, fmt)?;
        plan.push((f.clone(), fmt));
    }
    let deriver = ChannelDeriver::new(&config.channels).map_err(|e| anyhow::anyhow!("channel rules: {e}"))?;
    let decoder = Decoder::new(deriver, super::now_micros())
        .with_limits(wayfarer_ingest::decode::Limits::from_config(&config.ingest), false);
    let expected = plan.iter().filter_map(|(f, fmt)| estimate_records(f, *fmt)).sum();
    let mut writer = Writer::open_expecting(dir, super::now_micros(), expected)?.adding_here();
    // Events already stored follow the rules new ones are derived with.
    super::rederive_channels(&mut writer, config, false)?;
    // `--rejects FILE` is the user's to overwrite; the default name is new
    // for every import (two in the same second get -2, -3…).
    let rejects_target = match rejects_path {
        Some(p) => Rejects::Given(p),
        None => Rejects::Default(dir.join("rejects"), format!("import-{}", super::now_micros() / 1_000_000)),
    };
    let mut rejects_path = PathBuf::new();
    let mut rejects_out: Option<BufWriter<File>> = None;
    let mut shown = 0usize;
    let mut summary = ImportSummary::default();
    for (path, fmt) in plan {
        let name = path.display().to_string();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let pb = progress.bytes(size, &format!("Importing {}", short_name(&path)));
        let mut fs =
            FileSummary { file: name.clone(), format: format!("{fmt:?}").to_lowercase(), ..Default::default() };
        // Reading, decoding and turning events into columns (in parallel)
        // run on their own thread, a couple of chunks ahead of the writer,
        // which adds one chunk while the next is decoded.
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<EventRows>, Chunk<Piece>)>(2);
        let columns = Columns::default();
        let stats = std::thread::scope(|scope| -> Result<FileStats> {
            let reader = scope.spawn(|| {
                // Owned here, so the channel closes when the file is read.
                let tx = tx;
                // The reader's own time: all of it but waiting for the writer.
                let started = std::time::Instant::now();
                let mut waiting = std::time::Duration::ZERO;
                let read = read_file(&path, fmt, &decoder, &columns, |mut chunk| {
                    let rows = std::mem::take(&mut chunk.pieces).into_iter().collect::<Result<Vec<_>, _>>()?;
                    let t = std::time::Instant::now();
                    let sent = tx.send((rows, chunk)).map_err(|_| "the import stopped".to_string());
                    waiting += t.elapsed();
                    sent
                });
                drop(tx);
                (read, started.elapsed().saturating_sub(waiting))
            });
            let mut failed: Option<anyhow::Error> = None;
            let mut waited = std::time::Duration::ZERO;
            loop {
                let t = std::time::Instant::now();
                let Ok((rows, chunk)) = rx.recv() else { break };
                waited += t.elapsed();
                let added = (|| -> Result<()> {
                    let (acc, dup) = writer.add_all(rows)?;
                    fs.accepted += acc;
                    fs.duplicates += dup;
                    pb.set_position(chunk.position);
                    if !chunk.rejects.is_empty() {
                        write_rejects(&rejects_target, &mut rejects_path, &mut rejects_out, &chunk.rejects)?;
                        for r in &chunk.rejects {
                            if shown < SHOWN_REJECTS {
                                pb.suspend(|| eprintln!("rejected {r}"));
                                shown += 1;
                            }
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = added {
                    failed = Some(e);
                    break;
                }
            }
            // Dropping the receiver stops the reader at its next chunk.
            drop(rx);
            let (read, reading) = reader.join().map_err(|_| anyhow::anyhow!("the reader of {name} panicked"))?;
            times.add("read and decode (reader thread)", reading);
            times.add("writer waiting for the reader", waited);
            if let Some(e) = failed {
                return Err(e);
            }
            Ok(read?)
        })
        .with_context(|| "nothing was imported: the data directory is unchanged".to_string())?;
        fs.records = stats.records;
        fs.rejected = stats.rejected;
        done(&pb, &format!("Read {name}: {} events", wayfarer_render::count(fs.accepted + fs.duplicates)));
        summary.accepted += fs.accepted;
        summary.duplicates += fs.duplicates;
        summary.rejected += fs.rejected;
        summary.files.push(fs);
    }
    if shown < summary.rejected as usize && summary.rejected > 0 {
        eprintln!("… and {} more rejected records", summary.rejected as usize - shown);
    }
    if let Some(mut w) = rejects_out.take() {
        w.flush().context("writing the rejects file")?;
        summary.rejects_file = Some(rejects_path.display().to_string());
    }
    let pb = progress.spinner("Committing (identities, segments, manifest)");
    let (stats, writer_times): (CommitStats, _) = writer.commit_timed()?;
    done(&pb, "Committed");
    times.extend(&writer_times);
    summary.timings = times;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.events_total = stats.events_total;
    summary.rows_moved = stats.rows_moved;
    Ok(summary)
}

/// A piece of an import: the store's columns, built as the events are
/// decoded (no list of events is held).
type Piece = Result<EventRows, String>;

/// Gathers decoded events into the store's columns.
#[derive(Default)]
struct Columns {
    sizes: TextSizes,
}

impl Gather for Columns {
    type Piece = Piece;
    type Builder = EventRowsBuilder;

    fn start(&self, rows: usize) -> EventRowsBuilder {
        self.sizes.builder(rows)
    }

    fn push(&self, builder: &mut EventRowsBuilder, event: Event) {
        builder.push(&event);
    }

    fn push_ref(&self, builder: &mut EventRowsBuilder, event: &Event) {
        builder.push(event);
    }

    fn finish(&self, builder: EventRowsBuilder) -> Piece {
        self.sizes.learn(&builder);
        builder.finish().map_err(|e| e.to_string())
    }

    fn rename(&self, piece: &mut Piece, renamed: &[(usize, String)]) {
        if let Ok(rows) = piece
            && let Err(e) = rows.rename(renamed)
        {
            *piece = Err(e.to_string());
        }
    }
}

fn short_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Where an import's rejected records go.
enum Rejects {
    /// `--rejects FILE`: created or overwritten.
    Given(PathBuf),
    /// `DIR/rejects/STEM.ndjson`, or STEM-2.ndjson… if that exists.
    Default(PathBuf, String),
}

impl Rejects {
    fn create(&self) -> Result<(PathBuf, File)> {
        match self {
            Rejects::Given(p) => {
                if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                Ok((p.clone(), File::create(p).with_context(|| format!("creating {}", p.display()))?))
            }
            Rejects::Default(dir, stem) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                for n in 1u32.. {
                    let name = if n == 1 { format!("{stem}.ndjson") } else { format!("{stem}-{n}.ndjson") };
                    let p = dir.join(name);
                    match File::options().write(true).create_new(true).open(&p) {
                        Ok(f) => return Ok((p, f)),
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
                    }
                }
                bail!("no free name for a rejects file in {}", dir.display())
            }
        }
    }
}

fn write_rejects(
    target: &Rejects,
    path: &mut PathBuf,
    out: &mut Option<BufWriter<File>>,
    rejects: &[Reject],
) -> Result<()> {
    if out.is_none() {
        let (p, f) = target.create()?;
        *path = p;
        *out = Some(BufWriter::new(f));
    }
    if let Some(w) = out.as_mut() {
        for r in rejects {
            serde_json::to_writer(&mut *w, r)?;
            w.write_all(b"\n")?;
        }
    }
    Ok(())
}
