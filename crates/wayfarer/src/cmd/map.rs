//! `wayfarer map`: the journey map in text, JSON, HTML, CSV or XLSX.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wayfarer_engine::Model;
use wayfarer_engine::journey::compare::MapComparison;
use wayfarer_engine::journey::snapshot::{self as snapshots_, MapSnapshot};
use wayfarer_engine::journey::{Assignment, JourneyMap, MapInputs, Personas, journey_map_with, journey_maps_with};
use wayfarer_engine::personas::{PersonaSpec, persona_fit};
use wayfarer_engine::segments::{self, Segmentation};
use wayfarer_store::Store;

use crate::cli::{Global, MapAction, MapArgs, MapFormat, PersonaSource, ScopeArgs};
use crate::progress::{Progress, done};

pub fn run(g: &Global, args: &MapArgs, progress: Progress, out: &mut super::Out) -> Result<()> {
    match &args.action {
        Some(action @ MapAction::Snapshot { .. }) => return snapshot(g, action, progress, out),
        Some(MapAction::Snapshots { json }) => return snapshots(g, *json, out),
        Some(MapAction::DeleteSnapshot { name }) => {
            let snap = super::Snapshot::of(g)?;
            if !wayfarer_store::snapshots::delete(snap.store.dir(), name)? {
                anyhow::bail!("no snapshot named '{name}'");
            }
            say!("Deleted snapshot '{name}'");
            return Ok(());
        }
        None => {}
    }
    if args.compare.is_some() || args.around.is_some() {
        return compare(g, args, progress, out);
    }
    let snap = super::Snapshot::of(g)?;
    let (store, model) = (snap.store.clone(), snap.model()?);
    let mut scope = super::scope(&args.scope)?;
    let store = super::segments::scoped(store, &model, &args.scope)?;
    let format = if args.json { MapFormat::Json } else { args.format };
    let pb = progress.spinner("Building the journey map");
    let personas = match &args.split_by {
        Some(key) => {
            let by = Segmentation::resolve(key, &model)?;
            scope.persona = args.group.clone();
            segments::segment(&store, &model, &scope, &by)?
        }
        None => personas(&store, &model, &scope, args.personas)?,
    };
    let inputs = MapInputs::with_predicted_clv(&store, &model, &scope, personas)?;
    let mut maps = if matches!(format, MapFormat::Html | MapFormat::Xlsx) && scope.persona.is_none() {
        journey_maps_with(&store, &model, &scope, &inputs)?
    } else {
        vec![journey_map_with(&store, &model, &scope, &inputs)?]
    };
    done(&pb, "Built the journey map");
    // The team's efforts and owners order the opportunities.
    let plans = wayfarer_store::notes::plans(store.dir())?;
    for m in &mut maps {
        wayfarer_engine::journey::plans::score_opportunities(m, &plans);
    }
    // A group of a split is named with its segmentation ("properties.platform = ios").
    if let (Some(key), Some(group)) = (&args.split_by, &args.group)
        && let Some(by) = Segmentation::parse(key)
    {
        for m in maps.iter_mut().filter(|m| m.scope.persona.as_deref() == Some(group.as_str())) {
            m.scope.persona = Some(format!("{} = {group}", by.key()));
        }
    }
    if let (MapFormat::Json, None, super::Out::Capture(_)) = (format, &args.out, &out) {
        return out.json(&maps[0]);
    }
    write_maps(&maps, format, args.out.as_deref())
}

/// The personas a map is split by.
pub fn personas(
    store: &Store,
    model: &Model,
    scope: &wayfarer_engine::Scope,
    source: PersonaSource,
) -> Result<Personas> {
    let discovered = || -> Result<Personas> {
        let spec = PersonaSpec { with_maps: false, ..PersonaSpec::default() };
        Ok(Personas::discovered(persona_fit(store, model, scope, &spec)?))
    };
    Ok(match source {
        PersonaSource::Configured => Personas::hand_written(model),
        PersonaSource::Discovered => discovered()?,
        PersonaSource::Auto if !model.personas.is_empty() => Personas::hand_written(model),
        // Too few customers to cluster: a map without personas (any other
        // failure, a stopped computation or a failed read, stays an error).
        PersonaSource::Auto => match discovered() {
            Ok(p) => p,
            Err(e) if super::code_for(&e) == Some(wayfarer_core::ErrorCode::InvalidQuery) => Personas::none(),
            Err(e) => return Err(e),
        },
    })
}

pub fn write_maps(maps: &[JourneyMap], format: MapFormat, out: Option<&Path>) -> Result<()> {
    let Some(main) = maps.first() else {
        return Ok(());
    };
    match format {
        MapFormat::Text => emit(out, wayfarer_render::text::journey_table(main, super::term_width()).as_bytes()),
        MapFormat::Json => emit(out, (serde_json::to_string_pretty(main)? + "\n").as_bytes()),
        MapFormat::Csv => {
            let mut buf = Vec::new();
            wayfarer_render::tabular::write_csv(main, &mut buf)?;
            emit(out, &buf)
        }
        MapFormat::Html => {
            let path = out.map_or_else(|| PathBuf::from("journey-map.html"), Path::to_path_buf);
            let html = wayfarer_render::html::report(maps, "Customer journey map");
            std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
            say!("Wrote {}", path.display());
            Ok(())
        }
        MapFormat::Svg | MapFormat::Png => {
            let png = matches!(format, MapFormat::Png);
            let default = if png { "journey-map.png" } else { "journey-map.svg" };
            let path = out.map_or_else(|| PathBuf::from(default), Path::to_path_buf);
            let svg = wayfarer_render::mapsvg::map_svg(main, "Customer journey map");
            let bytes = if png { wayfarer_render::export::Png::new().render(&svg, 2.0)? } else { svg.into_bytes() };
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            say!("Wrote {}", path.display());
            Ok(())
        }
        MapFormat::Xlsx => {
            let path = out.map_or_else(|| PathBuf::from("journey-map.xlsx"), Path::to_path_buf);
            wayfarer_render::tabular::write_xlsx(maps, &path)?;
            say!("Wrote {}", path.display());
            Ok(())
        }
    }
}

fn emit(out: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display())),
        None => {
            let mut o = std::io::stdout().lock();
            match o.write_all(bytes).and_then(|()| o.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(super::Closed)),
                other => Ok(other?),
            }
        }
    }
}

/// The maps of all customers and of each persona over a scope.
fn maps_of(
    store: &Store,
    model: &Model,
    scope: &wayfarer_engine::Scope,
    personas: Personas,
) -> Result<Vec<JourneyMap>> {
    let inputs = MapInputs::with_predicted_clv(store, model, scope, personas)?;
    Ok(journey_maps_with(store, model, scope, &inputs)?)
}

fn personas_label(p: &Personas) -> &'static str {
    match p.assignment {
        Assignment::HandWritten => "configured",
        Assignment::Nearest(_) => "discovered",
        Assignment::Table(_) if p.names.is_empty() => "none",
        Assignment::Table(_) => "segments",
    }
}

/// `wayfarer map snapshot`: saves the maps in DIR/snapshots/NAME.json.
fn snapshot(g: &Global, action: &MapAction, progress: Progress, out: &mut super::Out) -> Result<()> {
    let MapAction::Snapshot { name, replace, from, to, personas: source, json } = action else {
        unreachable!("called for map snapshot")
    };
    let (name, replace, source, json) = (name.as_deref(), *replace, *source, *json);
    let scope_args = &ScopeArgs { persona: None, from: from.clone(), to: to.clone(), segment: None };
    let snap = super::Snapshot::of(g)?;
    let (store, model) = (snap.store.clone(), snap.model()?);
    let scope = super::scope(scope_args)?;
    let pb = progress.spinner("Building the journey maps");
    let s = build_snapshot(&store, &model, name, &scope, source)?;
    done(&pb, "Built the journey maps");
    let (name, label) = (s.name.clone(), s.personas.clone());
    let day = |s: &str| wayfarer_core::time::prefix(s, 10).to_string();
    snapshots_::save(store.dir(), &s, replace)?;
    let info = s.info();
    if json || matches!(out, super::Out::Capture(_)) {
        return out.json(&info);
    }
    say!(
        "Saved snapshot '{name}': {} customers, data {}..{}, {} {label} personas, {} pain points ({}).",
        info.customers,
        day(info.from.as_deref().unwrap_or(&info.data_start)),
        day(info.to.as_deref().unwrap_or(&info.data_end)),
        info.personas.len(),
        info.pain_points,
        store.dir().join("snapshots").join(format!("{name}.json")).display()
    );
    Ok(())
}

/// A snapshot of the maps over a scope, split by personas fitted (or
/// configured) over all the data, so snapshots of different periods have
/// the same personas to compare. Named `name`, else by the scope's end.
pub fn build_snapshot(
    store: &Store,
    model: &Model,
    name: Option<&str>,
    scope: &wayfarer_engine::Scope,
    source: PersonaSource,
) -> Result<MapSnapshot> {
    let personas = personas(store, model, &wayfarer_engine::Scope::default(), source)?;
    let label = personas_label(&personas);
    let mut maps = maps_of(store, model, scope, personas)?;
    let plans = wayfarer_store::notes::plans(store.dir())?;
    for m in &mut maps {
        wayfarer_engine::journey::plans::score_opportunities(m, &plans);
    }
    let all = &maps[0].scope;
    let day = |s: &str| wayfarer_core::time::prefix(s, 10).to_string();
    let name = name.map_or_else(|| day(all.to.as_deref().unwrap_or(&all.data_end)), str::to_string);
    Ok(MapSnapshot {
        name,
        created_at: wayfarer_core::time::format_rfc3339(super::now_micros()),
        config_hash: snapshots_::config_hash(&model.config),
        data_start: all.data_start.clone(),
        data_end: all.data_end.clone(),
        from: all.from.clone(),
        to: all.to.clone(),
        personas: label.to_string(),
        notes: wayfarer_store::notes::list(store.dir())?,
        targets: wayfarer_engine::journey::plans::target_statuses(&maps, &wayfarer_store::notes::targets(store.dir())?),
        maps,
    })
}

/// The server's monthly snapshots: for each complete calendar month (by
/// the server's clock) of the last twelve that holds data and has no
/// snapshot yet, the map of that month, named `month-YYYY-MM`. Returns the
/// names saved.
pub fn monthly_snapshots(store: &Store, model: &Model, now_us: i64) -> Result<Vec<String>> {
    use wayfarer_engine::period::Period;
    let saved = wayfarer_store::snapshots::names(store.dir())?;
    let this_month = Period::Month.number(now_us);
    let mut made = Vec::new();
    for n in (this_month - 12..this_month).rev() {
        let (from, to) = (Period::Month.start(n), Period::Month.start(n + 1));
        if to <= model.data_start {
            break;
        }
        let name = format!("month-{}", &Period::Month.label(n)[..7]);
        if from > model.data_end || saved.contains(&name) {
            continue;
        }
        let scope = wayfarer_engine::Scope { from: Some(from), to: Some(to), persona: None };
        let s = build_snapshot(store, model, Some(&name), &scope, PersonaSource::Auto)?;
        if s.maps.first().is_some_and(|m| m.scope.customers > 0) {
            snapshots_::save(store.dir(), &s, false)?;
            made.push(name);
        }
    }
    Ok(made)
}

/// `wayfarer map snapshots`.
fn snapshots(g: &Global, json: bool, out: &mut super::Out) -> Result<()> {
    let snap = super::Snapshot::of(g)?;
    let list = snapshots_::list(snap.store.dir())?;
    if json || matches!(out, super::Out::Capture(_)) {
        return out.json(&list);
    }
    if list.is_empty() {
        say!("No snapshots yet: wayfarer map snapshot [--name NAME]");
        return Ok(());
    }
    let day = |s: &str| wayfarer_core::time::prefix(s, 10).to_string();
    for i in &list {
        say!(
            "{:<20} {}..{}  {:>9} customers  {} personas  {} pain points  config {}",
            i.name,
            day(i.from.as_deref().unwrap_or(&i.data_start)),
            day(i.to.as_deref().unwrap_or(&i.data_end)),
            i.customers,
            i.personas.len(),
            i.pain_points,
            wayfarer_core::time::prefix(&i.config_hash, 12)
        );
    }
    Ok(())
}

/// One side of a comparison: a snapshot's maps, or a period's computed now.
struct SideMaps {
    label: String,
    maps: Vec<JourneyMap>,
    config_hash: Option<String>,
    /// A period's [from, to) (µs; open ends are the data's), for its cohorts.
    period: Option<(i64, i64)>,
}

/// `wayfarer map --compare A --vs B` and `--around ANNOTATION`.
fn compare(g: &Global, args: &MapArgs, progress: Progress, out: &mut super::Out) -> Result<()> {
    let pb = progress.spinner("Comparing the journey maps");
    let c = comparison(g, args)?;
    done(&pb, "Compared the journey maps");
    if args.json || matches!(args.format, MapFormat::Json) || matches!(out, super::Out::Capture(_)) {
        return out.json(&c);
    }
    match args.format {
        MapFormat::Html => {
            let path = args.out.clone().unwrap_or_else(|| PathBuf::from("journey-changes.html"));
            std::fs::write(&path, wayfarer_render::dashboard::comparison_report(&c))
                .with_context(|| format!("writing {}", path.display()))?;
            say!("Wrote {}", path.display());
        }
        MapFormat::Text => say!("{}", wayfarer_render::text::map_comparison(&c, super::term_width())),
        other => anyhow::bail!("--format {}: a comparison is text, json or html", format!("{other:?}").to_lowercase()),
    }
    Ok(())
}

/// The comparison `--compare A --vs B` or `--around ANNOTATION` asks for
/// (the CLI's, the API's and the dashboard's).
pub fn comparison(g: &Global, args: &MapArgs) -> Result<MapComparison> {
    let snap = super::Snapshot::of(g)?;
    let (store, model) = (snap.store.clone(), snap.model()?);
    let dir = store.dir().to_path_buf();
    let saved = wayfarer_store::snapshots::names(&dir)?;
    // Personas are fitted (or read) once over all the data, so both sides
    // split customers the same way.
    let mut personas_once: Option<Personas> = None;
    let mut period = |label: String, from: Option<String>, to: Option<String>| -> Result<SideMaps> {
        let scope = super::scope(&ScopeArgs { persona: None, from, to, segment: None })?;
        if personas_once.is_none() {
            personas_once = Some(personas(&store, &model, &wayfarer_engine::Scope::default(), args.personas)?);
        }
        let p = personas_once.clone().expect("set above");
        let period = Some((scope.from.unwrap_or(model.data_start), scope.to.unwrap_or(model.data_end + 1)));
        Ok(SideMaps { label, maps: maps_of(&store, &model, &scope, p)?, config_hash: None, period })
    };
    let (a, b) = if let Some(what) = &args.around {
        let ann = wayfarer_store::annotations::find(&dir, what)?;
        let at = wayfarer_core::time::parse_timestamp(&ann.at)
            .map_err(|e| anyhow::anyhow!("annotation #{}: {e}", ann.id))?;
        let span = i64::from(args.days) * 86_400_000_000;
        let day = |t: i64| wayfarer_core::time::format_rfc3339(t);
        let a = period(format!("{} days before \"{}\"", args.days, ann.text), Some(day(at - span)), Some(day(at)))?;
        let b = period(format!("{} days from \"{}\"", args.days, ann.text), Some(day(at)), Some(day(at + span)))?;
        (a, b)
    } else {
        let mut side = |spec: &str, flag: &str| -> Result<SideMaps> {
            if saved.iter().any(|n| n == spec) {
                let s = snapshots_::load(&dir, spec)?;
                return Ok(SideMaps { label: s.name, maps: s.maps, config_hash: Some(s.config_hash), period: None });
            }
            match spec.split_once("..") {
                Some((f, t)) => {
                    let open = |x: &str| Some(x.trim().to_string()).filter(|x| !x.is_empty());
                    period(spec.to_string(), open(f), open(t)).with_context(|| format!("{flag} '{spec}'"))
                }
                None => {
                    let hint = wayfarer_core::suggest::hint(spec, &saved);
                    let known = if saved.is_empty() { "none yet".to_string() } else { saved.join(", ") };
                    anyhow::bail!(
                        "{flag} '{spec}': no snapshot of that name{hint}, and not a period FROM..TO \
                         (e.g. 2026-07-01..2026-10-01); snapshots: {known}"
                    )
                }
            }
        };
        let a = side(args.compare.as_deref().expect("with --vs"), "--compare")?;
        let b = side(args.vs.as_deref().expect("with --compare"), "--vs")?;
        (a, b)
    };
    let mut c: MapComparison = match (a.period, b.period, &personas_once) {
        (Some(pa), Some(pb), Some(personas)) => {
            use wayfarer_engine::journey::cohorts::{Period, cohorts};
            let horizon = wayfarer_core::time::parse_duration(&args.horizon)
                .map_err(|e| anyhow::anyhow!("--horizon '{}': {e}", args.horizon))?;
            let period = |(from, to): (i64, i64)| Period { from, to };
            let co = cohorts(&store, &model, personas, period(pa), period(pb), horizon)?;
            let mut c = wayfarer_engine::journey::compare::compare_periods(&a.label, &a.maps, &b.label, &b.maps, &co);
            let followable = model.data_end - horizon;
            if pa.1.max(pb.1) > followable {
                c.warnings.push(format!(
                    "stage entries after {} cannot be followed for the whole --horizon {} (the data ends {}); \
                     they are left out of reach, conversion and time to next",
                    &wayfarer_core::time::format_rfc3339(followable)[..10],
                    args.horizon,
                    &wayfarer_core::time::format_rfc3339(model.data_end)[..10]
                ));
            }
            if pa.0 < pb.1 && pb.0 < pa.1 {
                c.warnings.push("the two periods overlap; the tests assume they do not".into());
            }
            c
        }
        _ => {
            let mut c = wayfarer_engine::journey::compare::compare(&a.label, &a.maps, &b.label, &b.maps);
            let range = |m: &[JourneyMap]| {
                m.first().map(|m| {
                    (
                        m.scope.from.clone().unwrap_or(m.scope.data_start.clone()),
                        m.scope.to.clone().unwrap_or(m.scope.data_end.clone()),
                    )
                })
            };
            if let (Some((fa, ta)), Some((fb, tb))) = (range(&a.maps), range(&b.maps))
                && fa < tb
                && fb < ta
            {
                c.warnings.push(format!(
                    "the two maps' data overlap ({}..{} and {}..{}): they share customers, so the tests \
                     (which assume independent samples) overstate significance; compare snapshots of \
                     distinct periods (map snapshot --from --to) or two periods",
                    wayfarer_core::time::prefix(&fa, 10),
                    wayfarer_core::time::prefix(&ta, 10),
                    wayfarer_core::time::prefix(&fb, 10),
                    wayfarer_core::time::prefix(&tb, 10)
                ));
            }
            c
        }
    };
    let now_hash = snapshots_::config_hash(&model.config);
    let (ha, hb) = (a.config_hash.unwrap_or_else(|| now_hash.clone()), b.config_hash.unwrap_or(now_hash));
    if ha != hb {
        c.warnings.push(format!(
            "the two maps were built with different configurations ({} vs {}); stages and rules may differ",
            wayfarer_core::time::prefix(&ha, 12),
            wayfarer_core::time::prefix(&hb, 12)
        ));
    }
    Ok(c)
}

/// `wayfarer annotate DATE TEXT`.
pub fn annotate(g: &Global, a: &crate::cli::AnnotateArgs, out: &mut super::Out) -> Result<()> {
    let dir = super::Snapshot::of(g)?.store.dir().to_path_buf();
    let at = wayfarer_core::time::parse_date_arg(&a.date).map_err(|e| anyhow::anyhow!("DATE '{}': {e}", a.date))?;
    let now = wayfarer_core::time::format_rfc3339(super::now_micros());
    let ann = wayfarer_store::annotations::add(&dir, &wayfarer_core::time::format_rfc3339(at), &a.text, &now)?;
    if matches!(out, super::Out::Capture(_)) {
        return out.json(&ann);
    }
    say!("Annotation #{} on {}: {}", ann.id, wayfarer_core::time::prefix(&ann.at, 10), ann.text);
    say!("Compare before and after: wayfarer map --around {} --days 28", ann.id);
    Ok(())
}

/// `wayfarer annotations list|delete`.
pub fn annotations(g: &Global, c: &crate::cli::AnnotationsCommand, out: &mut super::Out) -> Result<()> {
    let dir = super::Snapshot::of(g)?.store.dir().to_path_buf();
    match *c {
        crate::cli::AnnotationsCommand::List { json } => {
            let all = wayfarer_store::annotations::list(&dir)?;
            if json || matches!(out, super::Out::Capture(_)) {
                return out.json(&all);
            }
            if all.is_empty() {
                say!("No annotations yet: wayfarer annotate DATE TEXT");
            }
            for a in all {
                say!("#{:<4} {}  {}", a.id, wayfarer_core::time::prefix(&a.at, 10), a.text);
            }
            Ok(())
        }
        crate::cli::AnnotationsCommand::Delete { id } => {
            if !wayfarer_store::annotations::delete(&dir, id)? {
                anyhow::bail!("no annotation #{id} (wayfarer annotations list)");
            }
            say!("Deleted annotation #{id}");
            Ok(())
        }
    }
}

/// The maps of all customers and each persona (personas as `map` splits
/// them), with the team's plans applied.
fn current_maps(store: &Store, model: &Model) -> Result<Vec<JourneyMap>> {
    let scope = wayfarer_engine::Scope::default();
    let mut maps = maps_of(store, model, &scope, personas(store, model, &scope, PersonaSource::Auto)?)?;
    let plans = wayfarer_store::notes::plans(store.dir())?;
    for m in &mut maps {
        wayfarer_engine::journey::plans::score_opportunities(m, &plans);
    }
    Ok(maps)
}

/// `wayfarer opportunities list|plan|unplan`.
pub fn opportunities(g: &Global, c: &crate::cli::OpportunitiesCommand, out: &mut super::Out) -> Result<()> {
    use crate::cli::OpportunitiesCommand as C;
    let snap = super::Snapshot::of(g)?;
    let (store, model) = (snap.store.clone(), snap.model()?);
    let dir = store.dir().to_path_buf();
    match c {
        C::List { json } => {
            let maps = current_maps(&store, &model)?;
            let opps = &maps[0].opportunities;
            if *json || matches!(out, super::Out::Capture(_)) {
                return out.json(opps);
            }
            if opps.is_empty() {
                say!("No opportunities: the map found no pain point or positive signal to act on.");
            }
            for o in opps {
                let value = o.business_value.map_or_else(
                    || format!("{:.0} customers", o.customer_value),
                    |v| format!("{} (revenue at stake)", wayfarer_render::money(v)),
                );
                let plan = match (o.effort, &o.owner, o.score) {
                    (Some(e), owner, Some(s)) => {
                        format!("effort {e}, owner {}, score {s:.1}", owner.as_deref().unwrap_or("–"))
                    }
                    _ => "no effort set".into(),
                };
                say!("{}\n  {} · value {value} · {plan}\n  id: {}", o.title, o.action, o.id);
            }
            Ok(())
        }
        C::Plan { id, effort, owner } => {
            let maps = current_maps(&store, &model)?;
            let ids: Vec<&str> = maps
                .iter()
                .flat_map(|m| m.opportunities.iter().chain(m.stages.iter().flat_map(|s| &s.opportunities)))
                .map(|o| o.id.as_str())
                .collect();
            if !ids.contains(&id.as_str()) {
                anyhow::bail!(
                    "no opportunity '{id}'{} (wayfarer opportunities list shows their ids)",
                    wayfarer_core::suggest::hint(id, &ids)
                );
            }
            let now = wayfarer_core::time::format_rfc3339(super::now_micros());
            let plan =
                wayfarer_store::notes::Plan { effort: *effort, owner: owner.trim().to_string(), updated_at: now };
            wayfarer_store::notes::set_plan(&dir, id, Some(plan))?;
            say!(
                "Opportunity {id}: effort {effort}, owner {}",
                if owner.trim().is_empty() { "–" } else { owner.trim() }
            );
            Ok(())
        }
        C::Unplan { id } => {
            wayfarer_store::notes::set_plan(&dir, id, None)?;
            say!("Opportunity {id}: no effort or owner");
            Ok(())
        }
    }
}

/// A target's stage and persona checked against the maps.
fn check_target(maps: &[JourneyMap], stage: &str, persona: Option<&str>) -> Result<()> {
    let stages: Vec<&str> = maps[0].stages.iter().map(|s| s.name.as_str()).collect();
    if !stages.contains(&stage) {
        anyhow::bail!(
            "--stage '{stage}': no such stage{} (stages: {})",
            wayfarer_core::suggest::hint(stage, &stages),
            stages.join(", ")
        );
    }
    if let Some(p) = persona {
        let names: Vec<&str> = maps.iter().skip(1).filter_map(|m| m.scope.persona.as_deref()).collect();
        if !names.contains(&p) {
            anyhow::bail!(
                "--persona '{p}': no such persona{} (personas: {})",
                wayfarer_core::suggest::hint(p, &names),
                names.join(", ")
            );
        }
    }
    Ok(())
}

/// `wayfarer targets add|list|delete`.
pub fn targets(g: &Global, c: &crate::cli::TargetsCommand, out: &mut super::Out) -> Result<()> {
    use crate::cli::TargetsCommand as C;
    use wayfarer_engine::journey::plans::{describe, parse_target_value, target_statuses};
    let snap = super::Snapshot::of(g)?;
    let (store, model) = (snap.store.clone(), snap.model()?);
    let dir = store.dir().to_path_buf();
    match c {
        C::Add { stage, metric, op, value, owner, persona } => {
            let maps = current_maps(&store, &model)?;
            check_target(&maps, stage, persona.as_deref())?;
            let v = parse_target_value(metric, value).map_err(|e| anyhow::anyhow!("--value: {e}"))?;
            let t = wayfarer_store::notes::Target {
                id: 0,
                stage: stage.clone(),
                persona: persona.clone(),
                metric: metric.clone(),
                op: op.clone(),
                value: v,
                owner: owner.trim().to_string(),
                created_at: wayfarer_core::time::format_rfc3339(super::now_micros()),
            };
            let t = wayfarer_store::notes::add_target(&dir, t)?;
            let status = &target_statuses(&maps, std::slice::from_ref(&t))[0];
            if matches!(out, super::Out::Capture(_)) {
                return out.json(status);
            }
            say!(
                "Target #{}: {} — now {}",
                t.id,
                describe(&t),
                match status.met {
                    Some(true) => "met",
                    Some(false) => "missed",
                    None => "not measurable on the map",
                }
            );
            Ok(())
        }
        C::List { json } => {
            let targets = wayfarer_store::notes::targets(&dir)?;
            let maps = current_maps(&store, &model)?;
            let now = target_statuses(&maps, &targets);
            let history: Vec<(String, Vec<wayfarer_engine::journey::plans::TargetStatus>)> = snapshots_::list(&dir)?
                .into_iter()
                .map(|i| Ok((i.name.clone(), snapshots_::load(&dir, &i.name)?.targets)))
                .collect::<Result<_>>()?;
            #[derive(serde::Serialize)]
            struct Row<'a> {
                #[serde(flatten)]
                now: &'a wayfarer_engine::journey::plans::TargetStatus,
                /// Snapshot name → met (absent: the target did not exist yet).
                snapshots: Vec<(String, Option<bool>)>,
            }
            let rows: Vec<Row> = now
                .iter()
                .map(|s| Row {
                    now: s,
                    snapshots: history
                        .iter()
                        .filter_map(|(name, st)| {
                            st.iter().find(|x| x.target.id == s.target.id).map(|x| (name.clone(), x.met))
                        })
                        .collect(),
                })
                .collect();
            if *json || matches!(out, super::Out::Capture(_)) {
                return out.json(&rows);
            }
            if rows.is_empty() {
                say!(
                    "No KPI targets yet: wayfarer targets add --stage Decision --metric conversion --value 65% --owner 'checkout team'"
                );
            }
            let mark = |m: Option<bool>| match m {
                Some(true) => "met",
                Some(false) => "missed",
                None => "–",
            };
            for r in &rows {
                let t = &r.now.target;
                let owner = if t.owner.is_empty() { String::new() } else { format!(", owner {}", t.owner) };
                say!("#{:<3} {}{owner}: now {}", t.id, describe(t), mark(r.now.met));
                for (name, met) in &r.snapshots {
                    say!("      {name}: {}", mark(*met));
                }
            }
            Ok(())
        }
        C::Delete { id } => {
            if !wayfarer_store::notes::delete_target(&dir, *id)? {
                anyhow::bail!("no target #{id} (wayfarer targets list)");
            }
            say!("Deleted target #{id}");
            Ok(())
        }
    }
}
