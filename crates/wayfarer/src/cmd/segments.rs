//! `wayfarer segments`: save, list, show and delete segments, list their
//! members, and export them as ad-platform audiences. Definitions live in
//! `DIR/segments.json` (the store's `segment_defs`); membership is the
//! engine's fold.

use std::io::Write;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};
use wayfarer_engine::membership::{self, Member};
use wayfarer_engine::profiles::ProfileIndex;
use wayfarer_engine::{EngineError, Scope};
use wayfarer_store::segment_defs::{self, SegmentDef};

use super::Out;
use wayfarer_engine::model::Model;
use wayfarer_store::Store;

use crate::cli::{AudiencePlatform, Global, MembersFormat, ScopeArgs, SegmentsCommand};

pub fn run(g: &Global, cmd: SegmentsCommand, out: &mut Out) -> Result<()> {
    let snap = super::Snapshot::of(g)?;
    let model = snap.model()?;
    let (store, dir) = (&snap.store, snap.store.dir().to_path_buf());
    let scope = Scope::default();
    let saved =
        |name: &str| -> Result<SegmentDef> { segment_defs::get(&dir, name)?.ok_or_else(|| not_found(&dir, name)) };
    match cmd {
        SegmentsCommand::Create { name, condition, description, replace, json } => {
            segment_defs::check_name(&name).map_err(EngineError::InvalidQuery)?;
            // Checked against the data before anything is saved.
            let seg = membership::compile(store, &name, &condition, &model)?;
            let now = wayfarer_core::time::format_rfc3339(super::now_micros());
            let def = SegmentDef { name, condition, description, created_at: now.clone(), updated_at: now };
            let def = segment_defs::put(&dir, def, replace)?;
            let size = membership::sizes(store, &model, &scope, &[seg])?[0];
            if json {
                return out.json(&Listed { def, customers: size });
            }
            say!("Saved segment '{}': {size} customers.", def.name);
            Ok(())
        }
        SegmentsCommand::Count { condition, json } => {
            let seg = membership::compile(store, "", &condition, &model)?;
            let (of, sizes) = membership::members_count(store, &model, &scope, &[seg])?;
            if json {
                return out.json(&serde_json::json!({ "customers": sizes[0], "of": of }));
            }
            say!("{} of {of} customers", sizes[0]);
            Ok(())
        }
        SegmentsCommand::List { json } => {
            let defs = segment_defs::list(&dir)?;
            let segs = membership::compile_all(store, &defs, &model)?;
            let sizes = membership::sizes(store, &model, &scope, &segs)?;
            let listed: Vec<Listed> =
                defs.into_iter().zip(sizes).map(|(def, customers)| Listed { def, customers }).collect();
            if json {
                return out.json(&listed);
            }
            if listed.is_empty() {
                say!("No segments. Create one with `wayfarer segments create NAME --where CONDITION`.");
                return Ok(());
            }
            let width = listed.iter().map(|l| l.def.name.chars().count()).max().unwrap_or(4).max(4);
            say!("{:<width$}  {:>9}  condition", "name", "customers");
            for l in &listed {
                say!("{:<width$}  {:>9}  {}", l.def.name, l.customers, l.def.condition);
            }
            Ok(())
        }
        SegmentsCommand::Show { name, json } => {
            let def = saved(&name)?;
            let seg = membership::compile(store, &def.name, &def.condition, &model)?;
            let all = membership::members(store, &model, &scope, &[seg])?;
            let (base, members) = (all.customers, all.members.into_iter().next().unwrap_or_default());
            let mut by_stage: Vec<(String, usize)> =
                model.stage_names.iter().map(|s| (s.clone(), 0)).chain([("(no stage)".to_string(), 0)]).collect();
            for m in &members {
                let i = m.stage.as_ref().and_then(|s| model.stage_names.iter().position(|x| x == s));
                by_stage[i.unwrap_or(model.stage_names.len())].1 += 1;
            }
            by_stage.retain(|(_, n)| *n > 0);
            let shown = Shown {
                customers: members.len(),
                share: members.len() as f64 / base.max(1) as f64,
                by_stage: by_stage
                    .iter()
                    .map(|(stage, customers)| StageCount { stage: stage.clone(), customers: *customers })
                    .collect(),
                with_email: members.iter().filter(|m| m.email.is_some()).count(),
                with_phone: members.iter().filter(|m| m.phone.is_some()).count(),
                def,
            };
            if json {
                return out.json(&shown);
            }
            say!("Segment '{}': {} customers ({:.1} % of all)", shown.def.name, shown.customers, shown.share * 100.0);
            say!("  condition:   {}", shown.def.condition);
            if !shown.def.description.is_empty() {
                say!("  description: {}", shown.def.description);
            }
            say!("  created {}, changed {}", shown.def.created_at, shown.def.updated_at);
            say!("  reachable:   {} with an email, {} with a phone", shown.with_email, shown.with_phone);
            say!("  by stage:");
            for s in &shown.by_stage {
                say!("    {:<16} {:>9}", s.stage, s.customers);
            }
            Ok(())
        }
        SegmentsCommand::Members { name, json, format, limit } => {
            let def = saved(&name)?;
            let seg = membership::compile(store, &def.name, &def.condition, &model)?;
            let members = membership::members(store, &model, &scope, &[seg])?.members.remove(0);
            if json {
                return out.json(&members);
            }
            if format == MembersFormat::Csv {
                std::io::stdout().lock().write_all(&members_csv(&members)?)?;
                return Ok(());
            }
            say!(
                "{} customers in '{}'{}",
                members.len(),
                def.name,
                if members.len() > limit {
                    format!(" (the first {limit}; --json or --format csv for all)")
                } else {
                    String::new()
                }
            );
            say!("{:<38} {:<14} {:>7}  {:<20}  email", "customer", "stage", "events", "last seen");
            for m in members.iter().take(limit) {
                say!(
                    "{:<38} {:<14} {:>7}  {:<20}  {}",
                    m.customer_id,
                    m.stage.as_deref().unwrap_or("-"),
                    m.events,
                    m.last_seen,
                    m.email.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        SegmentsCommand::Changes { name, since, customer, json } => {
            let def = saved(&name)?;
            let since_us = match &since {
                Some(s) => wayfarer_core::time::parse_date_arg(s).map_err(|e| anyhow::anyhow!("--since: {e}"))?,
                None => i64::MIN,
            };
            if let Some(id) = &customer {
                let ids = store.identity_shared()?;
                if ids.lookup(&format!("u:{id}")).or_else(|| ids.lookup(&format!("a:{id}"))).is_none() {
                    return Err(anyhow::Error::new(EngineError::NotFound(format!(
                        "--customer: no customer with user id or anonymous id '{id}'"
                    ))));
                }
            }
            let changes = segment_defs::changes(&dir, Some(&def.name), customer.as_deref(), since_us)?;
            if json {
                return out.json(&changes);
            }
            if changes.is_empty() {
                say!("No recorded changes of '{}' (the server records them as events arrive).", def.name);
            }
            for c in &changes {
                say!("{}  {:<7}  {}", c.at, c.change, c.customer);
            }
            Ok(())
        }
        SegmentsCommand::Refresh { json } => {
            let started = std::time::Instant::now();
            let defs = segment_defs::list(&dir)?;
            let r = membership::refresh(store, &model, &defs, super::now_micros())?;
            let seconds = started.elapsed().as_secs_f64();
            if json {
                let mut v = serde_json::to_value(&r)?;
                v["seconds"] = serde_json::json!(seconds);
                return out.json(&v);
            }
            if r.decided == 0 && !r.incremental {
                say!(
                    "{} up to date at generation {}.",
                    wayfarer_render::counted(r.segments as u64, "segment"),
                    r.generation
                );
                return Ok(());
            }
            let how = if r.incremental { "with new rows, decided again" } else { "decided: every one" };
            say!(
                "{} at generation {}: {} entered, {} left, {} started ({} {how}; {seconds:.2} s).",
                wayfarer_render::counted(r.segments as u64, "segment"),
                r.generation,
                r.entered,
                r.left,
                r.started,
                wayfarer_render::counted(r.decided as u64, "customer")
            );
            Ok(())
        }
        SegmentsCommand::Delete { name, json } => {
            let def = saved(&name)?;
            segment_defs::delete(&dir, &def.name)?;
            if json {
                return out.json(&serde_json::json!({ "deleted": def.name }));
            }
            say!("Deleted segment '{}'.", def.name);
            Ok(())
        }
        SegmentsCommand::Export { name, audience, platform } => {
            let def = saved(&name)?;
            let seg = membership::compile(store, &def.name, &def.condition, &model)?;
            let members = membership::members(store, &model, &scope, &[seg])?.members.remove(0);
            let stats = write_audience(&audience, &members, platform)
                .with_context(|| format!("writing {}", audience.display()))?;
            say!(
                "Wrote {} rows for '{}' to {} ({} of {} members with an email, {} with a phone in E.164; {} with neither left out).",
                stats.rows,
                def.name,
                audience.display(),
                stats.emails,
                members.len(),
                stats.phones,
                members.len() - stats.rows
            );
            Ok(())
        }
    }
}

/// The store a command reads under `--segment NAME`: only the segment's
/// members (decided over all the data), else the store as it is.
pub fn scoped(store: Store, model: &Model, scope: &ScopeArgs) -> Result<Store> {
    let Some(name) = &scope.segment else { return Ok(store) };
    let dir = store.dir().to_path_buf();
    let def = segment_defs::get(&dir, name)?.ok_or_else(|| not_found(&dir, name))?;
    let seg = membership::compile(&store, &def.name, &def.condition, model)?;
    let all = store.all_customers();
    let members = membership::customers(&all, model, &Scope::default(), &seg)?;
    Ok(store.only_customers(std::sync::Arc::new(members)))
}

/// The server's profile index, swapped whole after each rebuild, and
/// whether anyone has asked for a profile.
#[derive(Clone, Default)]
pub struct Profiles {
    index: std::sync::Arc<std::sync::RwLock<Option<std::sync::Arc<ProfileIndex>>>>,
    asked: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Profiles {
    fn set(&self, index: Option<ProfileIndex>) {
        let mut slot = self.index.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = index.map(std::sync::Arc::new);
    }

    /// Whether the index is worth keeping: a profile key exists (a
    /// website's or an email tool's backend will ask), or a profile was
    /// asked for (with a read or admin token). A server nobody asks for
    /// profiles spends neither the time nor the memory (gigabytes at tens
    /// of millions of events) on it.
    fn wanted(&self, dir: &std::path::Path) -> bool {
        use wayfarer_server::keys::{self, KeyKind};
        self.asked.load(std::sync::atomic::Ordering::Relaxed)
            || keys::list(dir).is_ok_and(|l| l.iter().any(|k| k.kind == KeyKind::Profile && k.revoked_at.is_none()))
    }

    /// A profile as JSON (`Err` until the first index is built).
    pub fn lookup(&self, id: &str) -> std::result::Result<Option<serde_json::Value>, String> {
        self.asked.store(true, std::sync::atomic::Ordering::Relaxed);
        let index = self.index.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let Some(index) = index else {
            return Err("the profile index is not built yet: it is built once a profile key exists or a profile \
                        is asked for, and again after each commit, in a few seconds on a large store; try again \
                        shortly"
                .to_string());
        };
        Ok(index.profile(id).and_then(|p| serde_json::to_value(p).ok()))
    }
}

/// Keeps live membership (DESIGN §10), the profile index and triggers:
/// after each commit of new events, and after a segment is saved or
/// deleted, records who entered and who left each segment
/// (`DIR/membership/`) and rebuilds the profiles (while they are wanted:
/// [`Profiles`]); then (and every
/// [`TRIGGER_TICK`]) evaluates the triggers into the outbox and delivers
/// what is due, at most half of one core's time (after a rebuild that
/// took d it waits d). Runs for the server's life; a failed refresh is
/// reported and tried again at the next change.
pub fn live(
    dir: &std::path::Path,
    config: &wayfarer_core::Config,
    every: std::time::Duration,
    profiles: &Profiles,
    clock: wayfarer_core::time::Clock,
) {
    // On an accelerated clock timers come due sooner in real time.
    let trigger_tick = clock.real(TRIGGER_TICK).max(every);
    let mut last: Option<(u64, Vec<SegmentDef>, bool)> = None;
    let mut reported: Option<String> = None;
    let mut triggers_ran: Option<std::time::Instant> = None;
    let mut reported_triggers: Vec<String> = Vec::new();
    loop {
        let Ok(store) = Store::open(dir) else {
            std::thread::sleep(every);
            continue;
        };
        let Ok(defs) = segment_defs::list(dir) else {
            std::thread::sleep(every);
            continue;
        };
        let state = (store.manifest().generation, defs, profiles.wanted(dir));
        let changed = last.as_ref() != Some(&state);
        // Triggers' timers come due without new data: evaluated at least
        // every TRIGGER_TICK while a triggers file exists.
        let has_triggers = dir.join(wayfarer_core::triggers::FILE).exists();
        let tick = has_triggers && triggers_ran.is_none_or(|t| t.elapsed() >= trigger_tick);
        if !changed && !tick {
            std::thread::sleep(every);
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = (|| -> Result<()> {
            let model = wayfarer_engine::Model::compile(config, &store)?;
            if changed {
                membership::refresh(&store, &model, &state.1, clock.now_us())?;
                let segments = membership::compile_all(&store, &state.1, &model)?;
                profiles.set(if state.2 { Some(ProfileIndex::build(&store, &model, &segments)?) } else { None });
            }
            if has_triggers {
                triggers_ran = Some(std::time::Instant::now());
                let mut defs = super::triggers::load(dir)?;
                // One trigger that does not fit the data (yet) does not
                // stop the others; its error is reported.
                let mut invalid = Vec::new();
                defs.retain(|t| match wayfarer_engine::triggers::compile(&store, &model, std::slice::from_ref(t)) {
                    Ok(_) => true,
                    Err(e) => {
                        invalid.push(e.to_string());
                        false
                    }
                });
                if !invalid.is_empty() && reported_triggers != invalid {
                    for e in &invalid {
                        eprintln!("wayfarer: triggers: {e} (the other triggers run)");
                    }
                }
                reported_triggers = invalid;
                if !defs.is_empty() {
                    let now = clock.now_us();
                    super::triggers::evaluate(&store, &model, &defs, None, now, true)?;
                    super::triggers::deliver(&wayfarer_store::outbox::Outbox::new(dir), &defs, clock)?;
                }
            }
            Ok(())
        })();
        if let Err(e) = outcome {
            let message = e.to_string();
            if reported.as_ref() != Some(&message) {
                eprintln!("wayfarer: live segments, profiles and triggers: {message}");
                reported = Some(message);
            }
        } else {
            reported = None;
        }
        last = Some(state);
        // At most half of one core: after a rebuild that took d, wait d
        // (a live server commits every half second; on a big store a
        // rebuild takes seconds, and queries come first).
        std::thread::sleep(started.elapsed().max(every));
    }
}

/// How often the live loop evaluates triggers (and retries deliveries)
/// when no new data arrives.
const TRIGGER_TICK: std::time::Duration = std::time::Duration::from_secs(15);

/// A segment that does not exist: the error names the closest saved one.
fn not_found(dir: &std::path::Path, name: &str) -> anyhow::Error {
    let names: Vec<String> = segment_defs::list(dir).unwrap_or_default().into_iter().map(|s| s.name).collect();
    let listed = if names.is_empty() {
        " (no segments are saved yet)".to_string()
    } else {
        format!("{} (segments: {})", wayfarer_core::suggest::hint(name, &names), names.join(", "))
    };
    anyhow::Error::new(EngineError::NotFound(format!("no segment '{name}'{listed}")))
}

#[derive(Debug, Serialize)]
struct Listed {
    #[serde(flatten)]
    def: SegmentDef,
    customers: usize,
}

#[derive(Debug, Serialize)]
struct StageCount {
    stage: String,
    customers: usize,
}

#[derive(Debug, Serialize)]
struct Shown {
    #[serde(flatten)]
    def: SegmentDef,
    customers: usize,
    share: f64,
    by_stage: Vec<StageCount>,
    with_email: usize,
    with_phone: usize,
}

#[derive(Debug)]
pub struct AudienceStats {
    rows: usize,
    emails: usize,
    phones: usize,
}

/// SHA-256 of the trimmed, lower-cased email.
fn hashed_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    (e.contains('@') && !e.starts_with('@') && !e.ends_with('@')).then(|| sha256(&e))
}

/// A phone in E.164 (`+` and 8 to 15 digits, the country code first),
/// from one written with spaces, dashes, dots, brackets or a leading `00`;
/// `None` without a country code (it cannot be matched).
fn e164(phone: &str) -> Option<String> {
    let p = phone.trim();
    let rest = p.strip_prefix('+').or_else(|| p.strip_prefix("00"))?;
    if rest.chars().any(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))) {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    (8..=15).contains(&digits.len()).then(|| format!("+{digits}"))
}

fn sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// An audience file's bytes: a header the platform accepts and a row per
/// member with an email or a phone in E.164, hashed.
pub fn audience_csv(members: &[Member], platform: AudiencePlatform) -> Result<(Vec<u8>, AudienceStats)> {
    let header = match platform {
        AudiencePlatform::Google => ["Email", "Phone"],
        AudiencePlatform::Meta => ["email", "phone"],
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    let (mut rows, mut emails, mut phones) = (0, 0, 0);
    for m in members {
        let email = m.email.as_deref().and_then(hashed_email);
        let phone = m.phone.as_deref().and_then(e164).map(|p| match platform {
            // Google hashes E.164 with its '+'; Meta the digits with the country code.
            AudiencePlatform::Google => sha256(&p),
            AudiencePlatform::Meta => sha256(&p[1..]),
        });
        if email.is_none() && phone.is_none() {
            continue;
        }
        emails += usize::from(email.is_some());
        phones += usize::from(phone.is_some());
        rows += 1;
        w.write_record([email.unwrap_or_default(), phone.unwrap_or_default()])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((bytes, AudienceStats { rows, emails, phones }))
}

/// The members as CSV (what `segments members --format csv` prints).
pub fn members_csv(members: &[Member]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["customer_id", "stage", "events", "first_seen", "last_seen", "email", "phone"])?;
    for m in members {
        let events = m.events.to_string();
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        w.write_record([
            &m.customer_id,
            &o(&m.stage),
            &events,
            &m.first_seen,
            &m.last_seen,
            &o(&m.email),
            &o(&m.phone),
        ])?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn write_audience(path: &std::path::Path, members: &[Member], platform: AudiencePlatform) -> Result<AudienceStats> {
    let (bytes, stats) = audience_csv(members, platform)?;
    let tmp = path.with_extension("csv.partial");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if stats.rows == 0 && !members.is_empty() {
        bail!(
            "none of the {} members has an email or a phone with a country code in their traits (traits.email, traits.phone); wrote only the header",
            members.len()
        );
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones_are_normalised_before_hashing() {
        // Google's published example: the hash of "test@gmail.com".
        assert_eq!(
            hashed_email("  Test@Gmail.com ").as_deref(),
            Some("87924606b4131a8aceeeae8868531fbb9712aaa07a5d3a756b26ce0f5d6ca674")
        );
        assert_eq!(hashed_email("not an email"), None);
        assert_eq!(e164("+1 (555) 123-4567").as_deref(), Some("+15551234567"));
        assert_eq!(e164("0044 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(e164("555-1234"), None, "no country code");
        assert_eq!(e164("+1 555 CALL NOW"), None);
        assert_eq!(sha256("+15551234567").len(), 64);
    }
}
