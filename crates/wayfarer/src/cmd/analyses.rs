//! `wayfarer funnel`, `paths` and `retention`: parse flags into a query,
//! run it, print a table or JSON.

use anyhow::{Context, Result, bail};
use wayfarer_engine::funnel::{self, Breakdown, FunnelSpec, Mode, Step};
use wayfarer_engine::paths::{self, NodeBy, PathSpec};
use wayfarer_engine::period::Period;
use wayfarer_engine::retention::{self, RetentionSpec};
use wayfarer_engine::{Model, Scope, Unit};
use wayfarer_render::text;
use wayfarer_render::views::{self, View};
use wayfarer_store::Store;

use super::Out;
use crate::cli::{ExportArgs, FunnelArgs, Global, PathsArgs, RetentionArgs};

/// Writes the report's chart or table to `--export FILE` (format from the
/// extension); true if it did, so the command prints nothing else.
fn export(view: impl FnOnce() -> View, e: &ExportArgs) -> Result<bool> {
    let Some(path) = &e.export else { return Ok(false) };
    let format = path.extension().and_then(|x| x.to_str()).map(str::to_lowercase).unwrap_or_default();
    if !matches!(format.as_str(), "svg" | "png" | "csv" | "xlsx" | "html") {
        bail!("--export {}: the file name must end in .svg, .png, .csv, .xlsx or .html", path.display());
    }
    let png = wayfarer_render::export::Png::new();
    let bytes = wayfarer_render::export::view_export(&view(), &format, e.chart.as_deref(), &png)?;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    say!("Wrote {}", path.display());
    Ok(true)
}

fn open(g: &Global) -> Result<(Store, Model)> {
    let snap = super::Snapshot::of(g)?;
    let model = snap.model()?;
    Ok((snap.store, model))
}

/// The `funnel` command's report.
pub fn funnel_report(g: &Global, a: &FunnelArgs) -> Result<funnel::FunnelReport> {
    let (store, model) = open(g)?;
    let scope: Scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let steps: Vec<Step> = a.steps.iter().map(|s| Step::parse(s, &model)).collect::<Result<_, _>>()?;
    let window = wayfarer_core::time::parse_duration(&a.window).map_err(|e| anyhow::anyhow!("--window: {e}"))?;
    let Some(mode) = Mode::parse(&a.mode) else { bail!("--mode: unknown mode '{}'", a.mode) };
    let mut spec = FunnelSpec::new(steps, window, mode);
    spec.exclude = a.exclude.clone();
    for sw in &a.step_window {
        let (k, d) = sw.split_once('=').with_context(|| format!("--step-window '{sw}': expected K=DURATION"))?;
        let k: usize = k.trim().parse().with_context(|| format!("--step-window '{sw}': K is a step number"))?;
        if k < 2 || k > spec.steps.len() {
            bail!("--step-window '{sw}': K must be a step from 2 to {}", spec.steps.len());
        }
        let d = wayfarer_core::time::parse_duration(d).map_err(|e| anyhow::anyhow!("--step-window '{sw}': {e}"))?;
        spec.step_windows[k - 1] = Some(d);
    }
    spec.breakdown = a.breakdown.as_deref().map(Breakdown::parse).transpose()?;
    spec.per = Unit::parse(&a.per)?;
    spec.trend = match a.trend.as_deref() {
        Some(t) => Some(Period::parse(t).with_context(|| format!("--trend '{t}': expected day, week or month"))?),
        None => None,
    };
    let mut report = if a.compare_previous {
        funnel::funnel_with_previous(&store, &model, &scope, &spec)?
    } else {
        funnel::funnel(&store, &model, &scope, &spec)?
    };
    let around = match (a.before, a.between, a.after_drop) {
        (true, _, _) => Some(funnel::context::Around::Before),
        (_, Some(i), _) => Some(funnel::context::Around::Between(i)),
        (_, _, Some(i)) => Some(funnel::context::Around::AfterDrop(i)),
        _ => None,
    };
    if let Some(around) = around {
        let c = funnel::context::ContextSpec { around, events: a.context, top: a.top };
        report.paths = Some(funnel::context::funnel_paths(&store, &model, &scope, &spec, &c)?);
    }
    if whole_data(&a.scope) {
        let dropped = wayfarer_engine::membership::funnel_dropped(&spec, &model, a.scope.persona.as_deref());
        for (step, c) in report.steps.iter_mut().zip(dropped) {
            step.dropped_segment = c;
        }
    }
    Ok(report)
}

/// Whether an analysis reads all of the data (no dates, no saved segment):
/// only then does a condition hold exactly its groups.
fn whole_data(s: &crate::cli::ScopeArgs) -> bool {
    s.from.is_none() && s.to.is_none() && s.segment.is_none()
}

pub fn funnel(g: &Global, a: &FunnelArgs, out: &mut Out) -> Result<()> {
    let report = funnel_report(g, a)?;
    if export(|| views::funnel(&report), &a.export)? {
        return Ok(());
    }

    if a.json {
        out.json(&report)
    } else {
        say!("{}", text::funnel_table(&report));
        Ok(())
    }
}

/// The `paths` command's report.
pub fn paths_report(g: &Global, a: &PathsArgs) -> Result<paths::PathsReport> {
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let spec = PathSpec {
        from_event: a.from_event.clone(),
        to_event: a.to_event.clone(),
        length: a.length,
        top: a.top,
        collapse_repeats: a.collapse_repeats,
        clean: a.clean.iter().map(|c| paths::parse_clean(c)).collect::<Result<_, _>>()?,
        by: if a.by == "url" { NodeBy::Url } else { NodeBy::Event },
        per: Unit::parse(&a.per)?,
    };
    Ok(paths::paths(&store, &model, &scope, &spec)?)
}

/// The dashboard's view of a `paths` query, in whichever mode it asks for.
pub fn paths_view(g: &Global, a: &PathsArgs) -> Result<views::View> {
    if a.graph {
        if let (Some(x), Some(y)) = (&a.compare, &a.vs) {
            let (ga, gb) = (graph_report(g, a, Some(x))?, graph_report(g, a, Some(y))?);
            let c = wayfarer_engine::graph::compare(x, &ga, y, &gb, a.min_customers);
            return Ok(views::graph_comparison(&c, &ga, &gb));
        }
        return Ok(views::graph(&graph_report(g, a, None)?));
    }
    if a.step_matrix {
        return Ok(views::step_matrix(&step_report(g, a, None)?));
    }
    if let Some(src) = &a.pattern {
        return Ok(views::path_match(&path_match_report(g, a, src)?));
    }
    Ok(views::paths(&paths_report(g, a)?))
}

/// `paths --match`: who did what the pattern says, and around it.
pub fn path_match_report(g: &Global, a: &PathsArgs, src: &str) -> Result<wayfarer_engine::path_match::MatchReport> {
    use wayfarer_engine::path_match::{MatchSpec, path_match};
    let (store, model) = open(g)?;
    if a.per != "customer" {
        bail!("--match: patterns read each customer's whole sequence of events (leave --per at customer)");
    }
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let pattern = wayfarer_core::predicate::compile_pattern(src, &model.vocabulary())
        .map_err(|e| wayfarer_engine::EngineError::InvalidQuery(format!("--match: {e}")))?;
    let by = if a.by == "url" { NodeBy::Url } else { NodeBy::Event };
    Ok(path_match(&store, &model, &scope, &MatchSpec { pattern, context: a.context, top: a.top, by })?)
}

/// The store, model and scope of a `paths` query, narrowed to a group
/// (`persona:NAME`, `segment:NAME` or `FROM..TO`) when one is given.
fn grouped(g: &Global, a: &PathsArgs, group: Option<&str>) -> Result<(Store, Model, Scope)> {
    if a.per != "customer" {
        bail!("--graph and --step-matrix count customers (leave --per at customer)");
    }
    let mut scope_args = a.scope.clone();
    if let Some(group) = group {
        let clash = |what: &str| anyhow::anyhow!("--compare/--vs '{group}': the scope already sets {what}");
        match group.split_once(':') {
            Some(("persona", name)) => {
                if scope_args.persona.is_some() {
                    return Err(clash("--persona"));
                }
                scope_args.persona = Some(name.trim().to_string());
            }
            Some(("segment", name)) => {
                if scope_args.segment.is_some() {
                    return Err(clash("--segment"));
                }
                scope_args.segment = Some(name.trim().to_string());
            }
            _ => match group.split_once("..") {
                Some((from, to)) => {
                    if scope_args.from.is_some() || scope_args.to.is_some() {
                        return Err(clash("--from or --to"));
                    }
                    scope_args.from = Some(from.trim().to_string()).filter(|s| !s.is_empty());
                    scope_args.to = Some(to.trim().to_string()).filter(|s| !s.is_empty());
                }
                None => bail!(
                    "--compare/--vs '{group}': expected persona:NAME, segment:NAME or a period FROM..TO \
                     (e.g. 2026-05-01..2026-06-01)"
                ),
            },
        }
    }
    let (store, model) = open(g)?;
    let scope = super::scope(&scope_args)?;
    let store = super::segments::scoped(store, &model, &scope_args)?;
    Ok((store, model, scope))
}

/// `paths --graph` for the scope (and a group).
pub fn graph_report(g: &Global, a: &PathsArgs, group: Option<&str>) -> Result<wayfarer_engine::graph::GraphReport> {
    use wayfarer_engine::graph::{GraphSpec, graph};
    let (store, model, scope) = grouped(g, a, group)?;
    let by = if a.by == "url" { NodeBy::Url } else { NodeBy::Event };
    Ok(graph(&store, &model, &scope, &GraphSpec { by, min_customers: a.min_customers })?)
}

/// `paths --step-matrix` for the scope (and a group).
pub fn step_report(g: &Global, a: &PathsArgs, group: Option<&str>) -> Result<wayfarer_engine::step_matrix::StepMatrix> {
    use wayfarer_engine::step_matrix::{StepSpec, step_matrix};
    let (first, last) = match &a.steps {
        Some(s) => {
            let (x, y) = s.split_once("..").ok_or_else(|| anyhow::anyhow!("--steps '{s}': expected FIRST..LAST"))?;
            let n = |v: &str| v.trim().parse::<i32>().map_err(|_| anyhow::anyhow!("--steps '{s}': '{v}' is no step"));
            (n(x)?, n(y)?)
        }
        None if a.anchor.is_some() => (-5, 10),
        None => (1, 10),
    };
    let (store, model, scope) = grouped(g, a, group)?;
    let by = if a.by == "url" { NodeBy::Url } else { NodeBy::Event };
    let spec = StepSpec { by, anchor: a.anchor.clone(), first, last };
    Ok(step_matrix(&store, &model, &scope, &spec)?)
}

pub fn paths(g: &Global, a: &PathsArgs, out: &mut Out) -> Result<()> {
    if a.compare.is_some() && !a.graph && !a.step_matrix {
        bail!("--compare: compares graphs (--graph) or step matrices (--step-matrix); add one");
    }
    if a.step_matrix {
        if let (Some(x), Some(y)) = (&a.compare, &a.vs) {
            let d = wayfarer_engine::step_matrix::difference(
                x,
                &step_report(g, a, Some(x))?,
                y,
                &step_report(g, a, Some(y))?,
            );
            if a.json {
                return out.json(&d);
            }
            say!("{}", text::step_difference(&d, a.top));
            return Ok(());
        }
        let m = step_report(g, a, None)?;
        if a.json {
            return out.json(&m);
        }
        say!("{}", text::step_matrix(&m, a.top));
        return Ok(());
    }
    if a.graph {
        if let (Some(x), Some(y)) = (&a.compare, &a.vs) {
            let (ga, gb) = (graph_report(g, a, Some(x))?, graph_report(g, a, Some(y))?);
            if ga.customers == 0 || gb.customers == 0 {
                let empty = if ga.customers == 0 { x } else { y };
                bail!("--compare: the group '{empty}' has no customers with events in the scope");
            }
            let c = wayfarer_engine::graph::compare(x, &ga, y, &gb, a.min_customers);
            if a.json {
                return out.json(&c);
            }
            say!("{}", text::graph_comparison(&c, a.top));
            return Ok(());
        }
        let r = graph_report(g, a, None)?;
        if a.json {
            return out.json(&r);
        }
        say!("{}", text::graph(&r, a.top));
        return Ok(());
    }
    if let Some(src) = &a.pattern {
        let r = path_match_report(g, a, src)?;
        if a.json {
            return out.json(&r);
        }
        say!("{}", text::path_match(&r));
        return Ok(());
    }
    let report = paths_report(g, a)?;
    if export(|| views::paths(&report), &a.export)? {
        return Ok(());
    }

    if a.json {
        out.json(&report)
    } else {
        say!("{}", text::paths_table(&report));
        Ok(())
    }
}

/// The `retention` command's report.
pub fn retention_report(g: &Global, a: &RetentionArgs) -> Result<retention::RetentionReport> {
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let Some(period) = Period::parse(&a.period) else { bail!("--period: expected day, week or month") };
    let spec = RetentionSpec {
        period,
        periods: a.periods,
        start_event: a.start_event.clone(),
        return_event: a.return_event.clone(),
    };
    let mut report = retention::retention(&store, &model, &scope, &spec)?;
    if whole_data(&a.scope) && spec.start_event.is_none() {
        for c in &mut report.cohorts {
            c.segment =
                wayfarer_engine::membership::cohort(period, &c.cohort_start, &model, a.scope.persona.as_deref());
        }
    }
    Ok(report)
}

pub fn retention(g: &Global, a: &RetentionArgs, out: &mut Out) -> Result<()> {
    let report = retention_report(g, a)?;
    if export(|| views::retention(&report), &a.export)? {
        return Ok(());
    }

    if a.json {
        out.json(&report)
    } else {
        say!("{}", text::retention_table(&report));
        Ok(())
    }
}

pub fn rfm(g: &Global, a: &crate::cli::RfmArgs, out: &mut Out) -> Result<()> {
    use wayfarer_engine::rfm::{RfmSpec, Unit};
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let spec = RfmSpec {
        event: a.event.clone().unwrap_or_else(|| model.config.journey.purchase_event.clone()),
        calibration_end: calibration_end(&a.calibration_end)?,
        unit: if a.unit == "week" { Unit::Week } else { Unit::Day },
        keep_customers: a.customers || a.out.is_some(),
    };
    let (summary, rows) = wayfarer_engine::rfm::rfm(&store, &model, &scope, &spec)?;
    let ids = if a.customers || a.out.is_some() { Some(store.identity()?) } else { None };
    if let (Some(path), Some(ids)) = (&a.out, &ids) {
        let mut w = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
        w.write_record([
            "customer_id",
            "frequency",
            "recency",
            "T",
            "monetary",
            "mean_order_value",
            "orders",
            "revenue",
        ])?;
        for r in &rows {
            w.write_record([
                ids.external_id(r.customer).to_string(),
                r.frequency.to_string(),
                r.recency.to_string(),
                r.t.to_string(),
                r.monetary.to_string(),
                r.mean_order_value.to_string(),
                r.orders.to_string(),
                r.revenue.to_string(),
            ])?;
        }
        w.flush()?;
    }
    if a.json {
        let mut v = serde_json::to_value(&summary)?;
        if let (true, Some(ids)) = (a.customers, &ids) {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "customer_id": ids.external_id(r.customer), "frequency": r.frequency, "recency": r.recency,
                        "T": r.t, "monetary": r.monetary, "mean_order_value": r.mean_order_value,
                        "orders": r.orders, "revenue": r.revenue,
                    })
                })
                .collect();
            v["customers_rfm"] = serde_json::Value::Array(list);
        }
        out.json(&v)
    } else {
        say!(
            "{} purchasing customers ({} repeat); mean frequency {:.2}, recency {:.1}, T {:.1} {}s, mean order value {}",
            wayfarer_render::count(summary.customers),
            wayfarer_render::count(summary.repeat_customers),
            summary.mean_frequency.unwrap_or(0.0),
            summary.mean_recency.unwrap_or(0.0),
            summary.mean_t.unwrap_or(0.0),
            a.unit,
            wayfarer_render::money(summary.mean_order_value.unwrap_or(0.0))
        );
        if let Some(p) = &a.out {
            say!("Wrote {} rows to {}", rows.len(), p.display());
        }
        Ok(())
    }
}

/// The `surveys` command's report.
pub fn surveys_report(g: &Global, a: &crate::cli::SurveysArgs) -> Result<wayfarer_engine::surveys::SurveysReport> {
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let Some(period) = Period::parse(&a.period) else { bail!("--period: expected day, week or month") };
    Ok(wayfarer_engine::surveys::surveys(&store, &model, &scope, period)?)
}

pub fn surveys(g: &Global, a: &crate::cli::SurveysArgs, out: &mut Out) -> Result<()> {
    let report = surveys_report(g, a)?;
    if export(|| views::surveys(&report), &a.export)? {
        return Ok(());
    }

    if a.json {
        out.json(&report)
    } else {
        say!("{}", text::surveys_table(&report));
        Ok(())
    }
}

/// Parses a calibration end: a plain date covers its whole day.
fn calibration_end(s: &Option<String>) -> Result<Option<i64>> {
    let Some(s) = s.as_deref() else { return Ok(None) };
    let t = wayfarer_core::time::parse_date_arg(s).map_err(|e| anyhow::anyhow!("--calibration-end: {e}"))?;
    let date_only = s.trim().len() == 10;
    Ok(Some(if date_only { t + wayfarer_core::time::MICROS_PER_DAY - 1 } else { t }))
}

/// The `clv` command's report.
pub fn clv_report(g: &Global, a: &crate::cli::ClvArgs) -> Result<wayfarer_engine::clv::ClvReport> {
    use wayfarer_engine::clv::ClvSpec;
    use wayfarer_engine::rfm::Unit;
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let unit = if a.unit == "day" { Unit::Day } else { Unit::Week };
    let spec = ClvSpec {
        event: a.event.clone().unwrap_or_else(|| model.config.journey.purchase_event.clone()),
        calibration_end: calibration_end(&a.calibration_end)?,
        unit,
        horizon: a.horizon.unwrap_or(match unit {
            Unit::Day => 365.0,
            Unit::Week => 52.0,
        }),
        discount_rate: a.discount_rate,
        all_customers: a.customers,
        top: a.top,
        historic: true,
    };
    // Ten years: BG/NBD forecasts further out say little, and the
    // discounted sum walks the horizon month by month.
    let most = match unit {
        Unit::Day => 3650.0,
        Unit::Week => 520.0,
    };
    if !(spec.horizon > 0.0 && spec.horizon <= most) {
        let h = if spec.horizon.abs() >= 1e6 { format!("{:e}", spec.horizon) } else { spec.horizon.to_string() };
        bail!("--horizon {h}: must be greater than 0 and at most {most} {}s (ten years)", a.unit);
    }
    Ok(wayfarer_engine::clv::clv(&store, &model, &scope, &spec)?)
}

pub fn clv(g: &Global, a: &crate::cli::ClvArgs, out: &mut Out) -> Result<()> {
    let report = clv_report(g, a)?;
    if export(|| views::clv(&report), &a.export)? {
        return Ok(());
    }

    if a.json {
        out.json(&report)
    } else {
        say!("{}", text::clv_table(&report));
        Ok(())
    }
}

/// The `attribution` command's report.
pub fn attribution_report(
    g: &Global,
    a: &crate::cli::AttributionArgs,
) -> Result<wayfarer_engine::attribution::AttributionReport> {
    use wayfarer_core::time::{MICROS_PER_DAY, parse_duration};
    use wayfarer_engine::attribution::{AttributionSpec, ModelKind};
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let models = ModelKind::parse(&a.model).map_err(anyhow::Error::msg)?;
    let lookback =
        a.lookback.as_deref().map(parse_duration).transpose().map_err(|e| anyhow::anyhow!("--lookback: {e}"))?;
    let half_life = parse_duration(&a.half_life).map_err(|e| anyhow::anyhow!("--half-life: {e}"))?;
    if half_life <= 0 {
        bail!("--half-life must be positive");
    }
    let spec = AttributionSpec {
        conversion: a.conversion.clone().unwrap_or_else(|| model.config.journey.purchase_event.clone()),
        lookback,
        models,
        order: usize::from(a.order),
        half_life_days: half_life as f64 / MICROS_PER_DAY as f64,
        first_only: a.first_only,
        ..AttributionSpec::default()
    };
    Ok(wayfarer_engine::attribution::attribution(&store, &model, &scope, &spec)?)
}

pub fn attribution(g: &Global, a: &crate::cli::AttributionArgs, out: &mut Out) -> Result<()> {
    let report = attribution_report(g, a)?;
    if export(|| views::attribution(&report), &a.export)? {
        return Ok(());
    }

    if !a.json {
        say!("{}", text::attribution_table(&report));
        return Ok(());
    }
    // One model prints that model's object (with the totals); several print them all.
    match report.models.as_slice() {
        [one] => out.json(one),
        _ => out.json(&report),
    }
}

/// The `personas` command's report, and the store it came from.
pub fn personas_report(
    g: &Global,
    a: &crate::cli::PersonasArgs,
) -> Result<(Store, wayfarer_engine::personas::DiscoveredReport)> {
    use wayfarer_engine::personas::{PersonaSpec, discover};
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let spec = PersonaSpec { k: a.k, max_k: a.max_k, seed: a.seed, with_maps: true, fit_sample: a.fit_sample };
    let report = discover(&store, &model, &scope, &spec)?;
    Ok((store, report))
}

pub fn personas(g: &Global, a: &crate::cli::PersonasArgs, out: &mut Out) -> Result<()> {
    let (store, report) = personas_report(g, a)?;
    if export(|| views::personas(&report), &a.export)? {
        return Ok(());
    }
    if let Some(path) = &a.assignments {
        let ids = store.identity()?;
        let mut w = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
        w.write_record(["customer_id", "persona"])?;
        let mut rows: Vec<(&u32, &usize)> = report.assignment.iter().collect();
        rows.sort();
        for (c, p) in rows {
            w.write_record([ids.external_id(*c), report.personas[*p].name.as_str()])?;
        }
        w.flush()?;
    }
    if a.json {
        out.json(&report)
    } else {
        say!("{}", text::personas_table(&report));
        Ok(())
    }
}

pub fn customers(g: &Global, a: &crate::cli::CustomersArgs, out: &mut Out) -> Result<()> {
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let Some(p) = wayfarer_engine::customers::customer_profile(&store, &model, &scope, &a.id, a.limit)? else {
        return Err(anyhow::Error::new(wayfarer_engine::EngineError::NotFound(format!(
            "no customer with user id or anonymous id '{}'",
            a.id
        ))));
    };
    if a.json {
        return out.json(&p);
    }
    say!("{}", text::customer_profile(&p));
    Ok(())
}

/// `wayfarer nba`: the channels that move a stage's customers on, or one
/// customer's next best action.
pub fn nba(g: &Global, a: &crate::cli::NbaArgs, out: &mut Out) -> Result<()> {
    use wayfarer_engine::nba::{self, NbaSpec};
    let (store, model) = open(g)?;
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        bail!("--alpha: {} is not between 0 and 1", a.alpha);
    }
    let stage_index = |name: &str| -> Result<usize> {
        model.stage_names.iter().position(|s| s.eq_ignore_ascii_case(name)).ok_or_else(|| {
            anyhow::Error::new(wayfarer_engine::EngineError::InvalidQuery(format!(
                "no stage '{name}'{} (stages: {})",
                wayfarer_core::suggest::hint(name, &model.stage_names),
                model.stage_names.join(", ")
            )))
        })
    };
    let (stage, persona, customer) = match &a.customer {
        Some(id) => {
            let Some(p) = wayfarer_engine::customers::customer_profile(&store, &model, &Scope::default(), id, 1)?
            else {
                return Err(anyhow::Error::new(wayfarer_engine::EngineError::NotFound(format!(
                    "no customer with user id or anonymous id '{id}'"
                ))));
            };
            let Some(current) = p.current_stage.clone() else {
                bail!("customer '{id}' has reached no stage yet");
            };
            (stage_index(&current)?, model.resolve_persona(p.persona.as_deref())?, Some(p))
        }
        None => {
            let name = a.stage.as_deref().unwrap_or_default();
            (stage_index(name)?, model.resolve_persona(a.persona.as_deref())?, None)
        }
    };
    let window = wayfarer_core::time::parse_duration(&a.window).map_err(|e| anyhow::anyhow!("--window: {e}"))?;
    let spec = NbaSpec { stage, persona, min_customers: a.min_customers as u64, alpha: a.alpha, window };
    let report = nba::rank(&store, &model, &Scope::default(), &spec)?;
    let Some(p) = customer else {
        if a.json {
            return out.json(&report);
        }
        say!("{}", text::nba(&report));
        return Ok(());
    };
    let had: Vec<String> = p.channels.iter().map(|c| c.channel.clone()).collect();
    let next = report.recommended.iter().find(|c| !had.contains(c)).cloned();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["customer"] = serde_json::json!(p.customer_id);
        v["had"] = serde_json::json!(had);
        v["next_best_action"] = serde_json::json!(next);
        return out.json(&v);
    }
    say!("{}", text::nba(&report));
    match next {
        Some(c) => say!("Next best action for {}: reach them through {c} (they have not had it).", p.customer_id),
        None => say!("No recommended channel that {} has not had already.", p.customer_id),
    }
    Ok(())
}

/// `wayfarer recommend`: products for one customer, or the models'
/// evaluation against popularity.
pub fn recommend(g: &Global, a: &crate::cli::RecommendArgs, out: &mut Out) -> Result<()> {
    use wayfarer_engine::recommend;
    let (store, model) = open(g)?;
    if a.evaluate {
        let split = a
            .split
            .as_deref()
            .map(|s| wayfarer_core::time::parse_date_arg(s).map_err(|e| anyhow::anyhow!("--split: {e}")))
            .transpose()?;
        let e = recommend::evaluate(&store, &model, split, a.n)?;
        if a.json {
            return out.json(&e);
        }
        say!(
            "Trained on {} customers' product interactions before {}; {} products; scored on {} customers' new purchases after it:",
            e.train_customers,
            e.split,
            e.items,
            e.models.first().map_or(0, |m| m.metrics.users)
        );
        say!(
            "{:<14} {:>8} {:>8} {:>9} {:>10}",
            "model",
            format!("HR@{}", e.n),
            format!("NDCG@{}", e.n),
            format!("recall@{}", e.n),
            "train s"
        );
        for m in &e.models {
            say!(
                "{:<14} {:>8.3} {:>8.3} {:>9.3} {:>10.3}",
                m.model,
                m.metrics.hit_rate,
                m.metrics.ndcg,
                m.metrics.recall,
                m.seconds_to_train
            );
        }
        for n in &e.notes {
            say!("note: {n}");
        }
        return Ok(());
    }
    let id = a.customer.as_deref().unwrap_or_default();
    let ids = store.identity_shared()?;
    let Some(ident) = ids.lookup(&format!("u:{id}")).or_else(|| ids.lookup(&format!("a:{id}"))) else {
        return Err(anyhow::Error::new(wayfarer_engine::EngineError::NotFound(format!(
            "no customer with user id or anonymous id '{id}'"
        ))));
    };
    let customer = store.identity()?.canonical(ident);
    let list = recommend::for_customer(&store, &model, customer, a.n)?;
    if a.json {
        return out.json(&serde_json::json!({ "customer": id, "recommended": list }));
    }
    for (i, r) in list.iter().enumerate() {
        say!("{:>3}. {}  ({:.3})", i + 1, r.product_id, r.score);
    }
    Ok(())
}

/// `wayfarer doctor`: how the configuration fits the data.
pub fn doctor(g: &Global, a: &crate::cli::DoctorArgs, out: &mut Out) -> Result<()> {
    let (store, model) = open(g)?;
    let report = wayfarer_engine::doctor::doctor(&store, &model)?;
    if a.json {
        return out.json(&report);
    }
    say!("{}", wayfarer_render::text::doctor(&report));
    Ok(())
}

/// The `discovery` command's report.
pub fn discovery_report(
    g: &Global,
    a: &crate::cli::DiscoveryArgs,
) -> Result<wayfarer_engine::discovery::DiscoveryReport> {
    use wayfarer_engine::discovery::{DiscoverySpec, discovery};
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let spec = DiscoverySpec { dimensions: a.by.clone(), min_customers: a.min_customers, top: a.top };
    Ok(discovery(&store, &model, &scope, &spec)?)
}

pub fn discovery(g: &Global, a: &crate::cli::DiscoveryArgs, out: &mut Out) -> Result<()> {
    let report = discovery_report(g, a)?;
    if a.json {
        return out.json(&report);
    }
    say!("{}", text::discovery(&report));
    Ok(())
}

/// The `loyalty` command's report.
pub fn loyalty_report(g: &Global, a: &crate::cli::LoyaltyArgs) -> Result<wayfarer_engine::loyalty::LoyaltyReport> {
    use wayfarer_engine::loyalty::{LoyaltySpec, default_actions, loyalty, parse_action};
    let (store, model) = open(g)?;
    let scope = super::scope(&a.scope)?;
    let store = super::segments::scoped(store, &model, &a.scope)?;
    let (actions, absent) = if a.actions.is_empty() {
        default_actions(&model)
    } else {
        (a.actions.iter().map(|x| parse_action(x, &model)).collect::<Result<_, _>>()?, Vec::new())
    };
    let spec = LoyaltySpec { actions, context: a.context.max(1), top: a.top };
    let mut r = loyalty(&store, &model, &scope, &spec)?;
    r.absent = absent;
    Ok(r)
}

pub fn loyalty(g: &Global, a: &crate::cli::LoyaltyArgs, out: &mut Out) -> Result<()> {
    let report = loyalty_report(g, a)?;
    if a.json {
        return out.json(&report);
    }
    say!("{}", text::loyalty(&report));
    Ok(())
}
