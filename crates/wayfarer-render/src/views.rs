//! Each analysis report as a [`View`]: the charts and tables that show it.
//! The dashboard pages draw views, and every export (SVG, PNG, CSV, XLSX,
//! HTML) — from a page or from the CLI — is made from the same view.

use wayfarer_engine::attribution::AttributionReport;
use wayfarer_engine::clv::{ClvReport, ValueGroup};
use wayfarer_engine::funnel::FunnelReport;
use wayfarer_engine::paths::PathsReport;
use wayfarer_engine::personas::DiscoveredReport;
use wayfarer_engine::retention::RetentionReport;
use wayfarer_engine::surveys::{Scores, SurveysReport};

use crate::chart::{self, Cell, Chart, FunnelBar, HeatRow, Series, Table};

/// What a page shows of a report: headline figures, charts, tables.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub title: String,
    /// (label, value) pairs shown as KPI tiles.
    pub kpis: Vec<(String, String)>,
    pub charts: Vec<Chart>,
    pub tables: Vec<Table>,
    /// Plain-language notes (model caveats, why something is empty).
    pub notes: Vec<String>,
    /// Groups the page offers to save as a segment: (what, customers,
    /// condition). Pages only; exports leave them out.
    pub segments: Vec<(String, u64, String)>,
    /// Drill-downs the page offers: (what, the parameter it sets, its
    /// value), e.g. a funnel's "what those who stopped did instead".
    pub explore: Vec<(String, String, String)>,
}

impl View {
    pub fn chart(&self, id: &str) -> Option<&Chart> {
        self.charts.iter().find(|c| c.id == id)
    }
    /// Every table: the charts' data, then the view's own tables.
    pub fn all_tables(&self) -> Vec<&Table> {
        self.charts.iter().map(|c| &c.data).chain(self.tables.iter()).collect()
    }
}

fn num_fmt(x: f64) -> String {
    if x.abs() >= 100.0 { crate::count(x.round() as u64) } else { format!("{x:.1}") }
}

fn unit_noun(r: &FunnelReport) -> &'static str {
    r.unit.noun()
}

pub fn funnel(r: &FunnelReport) -> View {
    let bars: Vec<FunnelBar> = r
        .steps
        .iter()
        .map(|s| FunnelBar {
            label: s.name.clone(),
            customers: s.customers,
            from_previous: s.conversion_from_previous,
            from_first: s.conversion_from_first.unwrap_or(0.0),
            median_seconds: s.median_seconds_from_previous,
        })
        .collect();
    let mut v = View {
        title: if r.unit.is_customers() { "Funnel".into() } else { "Funnel of sessions".into() },
        ..View::default()
    };
    let first = r.steps.first().map_or(0, |s| s.customers);
    let last = r.steps.last().map_or(0, |s| s.customers);
    v.kpis.push(("Entered step 1".into(), crate::count(first)));
    v.kpis.push(("Converted".into(), crate::count(last)));
    v.kpis.push((
        "Overall conversion".into(),
        if first > 0 { crate::pct(last as f64 / first as f64) } else { "–".into() },
    ));
    v.kpis.push(("Median time to convert".into(), crate::duration(r.time_to_convert.median_seconds)));
    v.charts.push(chart::funnel_bars("funnel", "Conversion by step", &bars));
    for (k, s) in r.steps.iter().enumerate() {
        if let (Some(c), Some(next)) = (&s.dropped_segment, r.steps.get(k + 1)) {
            let what = format!("Dropped after step {} ({}) before {}", k + 1, s.name, next.name);
            v.segments.push((what, s.customers.saturating_sub(next.customers), c.clone()));
        }
        if let (Some(next), true) = (r.steps.get(k + 1), r.unit.is_customers()) {
            let n = r.level_counts.get(k + 1).copied().unwrap_or(0);
            v.explore.push((
                format!("What the {} who stopped after {} did instead of {}", crate::count(n), s.name, next.name),
                "after-drop".into(),
                (k + 1).to_string(),
            ));
        }
    }
    if let Some(p) = &r.paths {
        use wayfarer_engine::funnel::context::Around;
        let mut add = |name: &str, side: &wayfarer_engine::funnel::context::PathsOf| {
            let mut t = Table::new(name, &["path", unit_noun(r), "share"]);
            for x in &side.paths {
                t.push(vec![Cell::text(x.path.join(" → ")), Cell::int(x.customers), Cell::num(x.share)]);
            }
            v.tables.push(t);
        };
        match p.around {
            Around::Before => {
                if let Some(c) = &p.converted {
                    add("before-step-1", c);
                }
            }
            Around::Between(i) | Around::AfterDrop(i) => {
                if let Some(c) = &p.converted {
                    add(&format!("between-step-{i}-and-{}", i + 1), c);
                }
                if let Some(d) = &p.dropped {
                    add(&format!("what-they-did-instead-after-step-{i}"), d);
                }
            }
        }
    }
    let buckets: Vec<(String, u64)> =
        r.time_to_convert.buckets.iter().map(|b| (b.label.clone(), b.customers)).collect();
    let unit = r.unit.noun();
    v.charts.push(chart::histogram("time-to-convert", "Time to convert (step 1 to last step)", unit, &buckets));
    if !r.trend.is_empty() {
        let labels: Vec<String> = r.trend.iter().map(|t| t.period_start.clone()).collect();
        let series = [Series { name: "conversion".into(), values: r.trend.iter().map(|t| t.conversion).collect() }];
        let mut c = chart::lines("trend", "Conversion by period of step 1", &labels, &series, true);
        c.data.columns.extend(["entered".into(), "converted".into()]);
        for (row, t) in c.data.rows.iter_mut().zip(&r.trend) {
            row.extend([Cell::int(t.entered), Cell::int(t.converted)]);
        }
        v.charts.push(c);
    }
    if !r.breakdown.is_empty() {
        let groups: Vec<String> = r.breakdown.iter().map(|g| g.group.clone()).collect();
        let conv = |g: &wayfarer_engine::funnel::GroupReport| {
            let a = g.steps.first().map_or(0, |s| s.customers);
            let b = g.steps.last().map_or(0, |s| s.customers);
            (a > 0).then(|| b as f64 / a as f64)
        };
        let series = [Series { name: "conversion".into(), values: r.breakdown.iter().map(conv).collect() }];
        let mut c = chart::hbars("breakdown", "Overall conversion by group", &groups, &series, crate::pct);
        c.data.columns.push("entered".into());
        for (row, g) in c.data.rows.iter_mut().zip(&r.breakdown) {
            row.push(Cell::int(g.steps.first().map_or(0, |s| s.customers)));
        }
        v.charts.push(c);
    }
    v
}

pub fn paths(r: &PathsReport) -> View {
    let unit = r.unit.noun();
    let mut v = View {
        title: if r.unit.is_customers() { "Paths".into() } else { "Paths of sessions".into() },
        ..View::default()
    };
    v.kpis.push((if r.unit.is_customers() { "Customers" } else { "Sessions" }.into(), crate::count(r.customers)));
    v.kpis.push(("With a matching path".into(), crate::count(r.customers_with_path)));
    let nodes: Vec<chart::SankeyNode> = r
        .sankey
        .nodes
        .iter()
        .map(|n| chart::SankeyNode { step: n.step, label: n.label.clone(), customers: n.customers })
        .collect();
    let links: Vec<chart::SankeyLink> = r
        .sankey
        .links
        .iter()
        .map(|l| chart::SankeyLink { source: l.source, target: l.target, customers: l.customers })
        .collect();
    if !nodes.is_empty() {
        v.charts.push(chart::sankey(
            "sankey",
            &format!("Where {unit} go, step by step"),
            &nodes,
            &links,
            r.customers_with_path,
        ));
    }
    let mut t = Table::new("top-paths", &["path", unit, "share"]);
    for p in &r.top_paths {
        t.push(vec![Cell::text(p.path.join(" → ")), Cell::int(p.customers), Cell::num(p.share)]);
    }
    v.tables.push(t);
    v
}

/// The edges the graph chart draws.
const GRAPH_EDGES: usize = 20;

fn graph_nodes(nodes: &[wayfarer_engine::graph::GraphNode]) -> Vec<chart::GraphNodeIn> {
    nodes
        .iter()
        .map(|n| chart::GraphNodeIn { label: n.label.clone(), customers: n.customers, position: n.position })
        .collect()
}

/// `paths --graph`: the busiest edges drawn in layers, and every edge's numbers.
pub fn graph(r: &wayfarer_engine::graph::GraphReport) -> View {
    let mut v = View { title: "Transition graph".into(), ..View::default() };
    v.kpis.push(("Customers".into(), crate::count(r.customers)));
    v.kpis.push(("Events (nodes)".into(), crate::count(r.nodes.len() as u64)));
    v.kpis.push(("Transitions (edges)".into(), crate::count(r.edges.len() as u64)));
    let mut top: Vec<&wayfarer_engine::graph::GraphEdge> = r.edges.iter().filter(|e| e.from != e.to).collect();
    top.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to))));
    top.truncate(GRAPH_EDGES);
    let edges: Vec<chart::GraphEdgeIn> = top
        .iter()
        .map(|e| chart::GraphEdgeIn {
            from: e.from.clone(),
            to: e.to.clone(),
            customers: e.customers,
            colour: None,
            tip: format!(
                "{} → {}: {}; {} of what follows {}; median {}",
                e.from,
                e.to,
                crate::counted(e.customers, "customer"),
                crate::pct(e.p_next),
                e.from,
                crate::duration(Some(e.median_seconds))
            ),
        })
        .collect();
    v.charts.push(chart::graph(
        "graph",
        &format!("The {} busiest transitions, laid out by typical position", edges.len()),
        &graph_nodes(&r.nodes),
        &edges,
    ));
    let mut t = Table::new(
        "edges",
        &["from", "to", "transitions", "customers", "p_next", "p_prev", "median_seconds", "p95_seconds"],
    );
    for e in &r.edges {
        t.push(vec![
            Cell::text(&e.from),
            Cell::text(&e.to),
            Cell::int(e.count),
            Cell::int(e.customers),
            Cell::num(e.p_next),
            Cell::num(e.p_prev),
            Cell::num(e.median_seconds),
            Cell::num(e.p95_seconds),
        ]);
    }
    v.tables.push(t);
    v
}

/// `paths --graph --compare A --vs B`: the graph with only the significant
/// differences coloured (blue: more in A, vermillion: more in B).
pub fn graph_comparison(
    c: &wayfarer_engine::graph::GraphComparison,
    a: &wayfarer_engine::graph::GraphReport,
    b: &wayfarer_engine::graph::GraphReport,
) -> View {
    let mut v = View { title: format!("{} vs {}", c.a, c.b), ..View::default() };
    v.kpis.push((c.a.clone(), crate::counted(c.a_customers, "customer")));
    v.kpis.push((c.b.clone(), crate::counted(c.b_customers, "customer")));
    v.kpis.push(("Edges differing significantly".into(), format!("{} of {}", c.significant, c.edges.len())));
    v.notes.push(format!(
        "Share: of the customers who reached an edge's first event, those who went straight on to the second. \
         Coloured edges differ significantly (two-proportion z-test, Benjamini–Hochberg q < 5 %): blue where {} \
         takes them more, vermillion where {} does; grey edges do not differ.",
        c.a, c.b
    ));
    // Nodes from both groups (positions from the larger).
    let mut nodes = graph_nodes(&a.nodes);
    for n in graph_nodes(&b.nodes) {
        if !nodes.iter().any(|m| m.label == n.label) {
            nodes.push(n);
        }
    }
    let mut top: Vec<&wayfarer_engine::graph::EdgeDifference> = c.edges.iter().filter(|e| e.from != e.to).collect();
    top.sort_by(|x, y| {
        y.significant
            .cmp(&x.significant)
            .then_with(|| (y.a_customers + y.b_customers).cmp(&(x.a_customers + x.b_customers)))
    });
    top.truncate(GRAPH_EDGES);
    let edges: Vec<chart::GraphEdgeIn> = top
        .iter()
        .map(|e| chart::GraphEdgeIn {
            from: e.from.clone(),
            to: e.to.clone(),
            customers: e.a_customers + e.b_customers,
            colour: e.significant.then_some(if e.difference > 0.0 { "#0072B2" } else { "#D55E00" }),
            tip: format!(
                "{} → {}: {} {} vs {} {} ({:+.1} points, q = {:.3}{})",
                e.from,
                e.to,
                c.a,
                crate::pct(e.a_share),
                c.b,
                crate::pct(e.b_share),
                e.difference * 100.0,
                e.q_value,
                if e.significant { ", significant" } else { "" }
            ),
        })
        .collect();
    v.charts.push(chart::graph("graph-compare", "Transitions compared", &nodes, &edges));
    let mut t = Table::new(
        "edges-compared",
        &["from", "to", "a_share", "b_share", "difference", "p_value", "q_value", "significant"],
    );
    for e in &c.edges {
        t.push(vec![
            Cell::text(&e.from),
            Cell::text(&e.to),
            Cell::num(e.a_share),
            Cell::num(e.b_share),
            Cell::num(e.difference),
            Cell::num(e.p_value),
            Cell::num(e.q_value),
            Cell::text(if e.significant { "yes" } else { "" }),
        ]);
    }
    v.tables.push(t);
    v
}

/// `paths --step-matrix`: the share of customers with each event at each step.
pub fn step_matrix(m: &wayfarer_engine::step_matrix::StepMatrix) -> View {
    let mut v = View { title: "Step matrix".into(), ..View::default() };
    v.kpis.push(("Customers".into(), crate::count(m.customers)));
    if let Some(a) = &m.anchor {
        v.kpis.push(("Anchor (step 0)".into(), a.clone()));
    }
    let rows: Vec<HeatRow> = m
        .rows
        .iter()
        .map(|r| HeatRow { label: r.event.clone(), size: 0, values: r.shares.iter().map(|&x| Some(x)).collect() })
        .collect();
    v.charts.push(chart::heatmap("step-matrix", "Share of customers at each step", "step", &rows, m.steps.len()));
    let mut cols = vec!["event".to_string()];
    cols.extend(m.steps.iter().map(|s| format!("step {s}")));
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let mut t = Table::new("steps", &refs);
    for r in &m.rows {
        let mut row = vec![Cell::text(&r.event)];
        row.extend(r.shares.iter().map(|&x| Cell::num(x)));
        t.push(row);
    }
    v.tables.push(t);
    v
}

/// `paths --match`: who matches, and what they did around it.
pub fn path_match(r: &wayfarer_engine::path_match::MatchReport) -> View {
    let mut v = View { title: "Pattern".into(), ..View::default() };
    v.kpis.push(("Customers matching".into(), crate::count(r.matched)));
    v.kpis.push(("Share".into(), crate::pct(r.share)));
    v.kpis.push(("Occurrences".into(), crate::count(r.occurrences)));
    v.segments.push((format!("Customers who match {}", r.pattern), r.matched, r.segment_condition.clone()));
    let mut add = |name: &str, list: &[wayfarer_engine::paths::TopPath]| {
        let mut t = Table::new(name, &["path", "customers", "share"]);
        for p in list {
            t.push(vec![Cell::text(p.path.join(" → ")), Cell::int(p.customers), Cell::num(p.share)]);
        }
        v.tables.push(t);
    };
    add("what-they-did-next", &r.next_paths);
    add("what-led-to-it", &r.previous_paths);
    add("the-matches", &r.matched_paths);
    v
}

pub fn retention(r: &RetentionReport) -> View {
    let period = format!("{:?}", r.period).to_lowercase();
    let mut v = View { title: "Retention".into(), ..View::default() };
    let rows: Vec<HeatRow> = r
        .cohorts
        .iter()
        .map(|c| HeatRow {
            label: c.cohort_start.clone(),
            size: c.size,
            values: (0..r.periods + 1)
                .map(|k| (k < c.observed).then(|| c.retention.get(k).copied()).flatten())
                .collect(),
        })
        .collect();
    let total: u64 = r.cohorts.iter().map(|c| c.size).sum();
    v.kpis.push(("Customers in cohorts".into(), crate::count(total)));
    for c in &r.cohorts {
        if let Some(cond) = &c.segment {
            v.segments.push((format!("The {period} cohort of {}", c.cohort_start), c.size, cond.clone()));
        }
    }
    let weighted = |k: usize| {
        let (mut n, mut a) = (0u64, 0u64);
        for c in r.cohorts.iter().filter(|c| c.observed > k) {
            n += c.size;
            a += c.active.get(k).copied().unwrap_or(0);
        }
        (n > 0).then(|| a as f64 / n as f64)
    };
    if let Some(x) = weighted(1) {
        v.kpis.push((format!("Retained after 1 {period}"), crate::pct(x)));
    }
    if r.periods >= 4
        && let Some(x) = weighted(4)
    {
        v.kpis.push((format!("After 4 {period}s"), crate::pct(x)));
    }
    v.charts.push(chart::heatmap(
        "cohorts",
        "Share of each cohort active, by period since it started",
        &period,
        &rows,
        r.periods + 1,
    ));
    let labels: Vec<String> = r.lifecycle.iter().map(|p| p.period_start.clone()).collect();
    let s = |name: &str, f: fn(&wayfarer_engine::retention::LifecyclePoint) -> u64| Series {
        name: name.into(),
        values: r.lifecycle.iter().map(|p| Some(f(p) as f64)).collect(),
    };
    v.charts.push(chart::diverging_bars(
        "lifecycle",
        "Lifecycle: new, returning and resurrecting customers against those who went dormant",
        &labels,
        &[s("new", |p| p.new), s("returning", |p| p.returning), s("resurrecting", |p| p.resurrecting)],
        &[s("dormant", |p| p.dormant)],
    ));
    let churn = [Series { name: "churn rate".into(), values: r.lifecycle.iter().map(|p| p.churn_rate).collect() }];
    let mut c = chart::lines(
        "churn",
        &format!("Churn per {period}: share of active customers not active the next {period}"),
        &labels,
        &churn,
        true,
    );
    c.data.columns.push("churned".into());
    for (row, p) in c.data.rows.iter_mut().zip(&r.lifecycle) {
        row.push(Cell::int(p.churned));
    }
    v.charts.push(c);
    v
}

fn value_groups(id: &str, title: &str, groups: &[ValueGroup]) -> Chart {
    let cats: Vec<String> = groups.iter().map(|g| g.group.clone()).collect();
    let series = [
        Series { name: "revenue to date per customer".into(), values: groups.iter().map(|g| Some(g.mean)).collect() },
        Series { name: "mean predicted CLV".into(), values: groups.iter().map(|g| g.mean_predicted_clv).collect() },
    ];
    let mut c = chart::hbars(id, title, &cats, &series, crate::money);
    c.data.columns.extend(["customers".into(), "purchasers".into(), "revenue".into()]);
    for (row, g) in c.data.rows.iter_mut().zip(groups) {
        row.extend([Cell::int(g.customers), Cell::int(g.purchasers), Cell::num(g.revenue)]);
    }
    c
}

pub fn clv(r: &ClvReport) -> View {
    let mut v = View { title: "Customer lifetime value".into(), ..View::default() };
    v.kpis.push(("Purchasers".into(), crate::count(r.historic.purchasers)));
    v.kpis.push(("Revenue to date".into(), crate::money(r.historic.revenue)));
    if let Some(p) = &r.predicted {
        v.kpis.push((format!("Predicted, next {} {:?}s", r.horizon, r.unit).to_lowercase(), crate::money(p.clv)));
        v.kpis.push(("Mean predicted CLV".into(), crate::money(p.mean_clv)));
    }
    v.charts.push(value_groups("by-first-channel", "Value by first channel", &r.historic.by_first_channel));
    if !r.historic.by_persona.is_empty() {
        v.charts.push(value_groups("by-persona", "Value by persona", &r.historic.by_persona));
    }
    v.charts.push(value_groups("by-cohort", "Value by first-purchase cohort", &r.historic.by_cohort));
    let mut t = Table::new("model", &["model", "parameter", "estimate"]);
    if let Some(b) = &r.bgnbd {
        for (k, x) in [("r", b.r), ("alpha", b.alpha), ("a", b.a), ("b", b.b), ("log_likelihood", b.log_likelihood)] {
            t.push(vec![Cell::text("BG/NBD"), Cell::text(k), Cell::num(x)]);
        }
    }
    if let Some(g) = &r.gamma_gamma {
        for (k, x) in [("p", g.p), ("q", g.q), ("v", g.v), ("log_likelihood", g.log_likelihood)] {
            t.push(vec![Cell::text("Gamma-Gamma"), Cell::text(k), Cell::num(x)]);
        }
    }
    v.tables.push(t);
    v.notes.clone_from(&r.notes);
    v
}

pub fn attribution(r: &AttributionReport) -> View {
    let mut v = View { title: "Attribution".into(), ..View::default() };
    v.kpis.push(("Conversions".into(), crate::count(r.total_conversions.round() as u64)));
    v.kpis.push(("Value".into(), crate::money(r.total_value)));
    v.kpis.push(("Converting paths".into(), crate::count(r.converting_paths)));
    v.kpis.push(("Paths without conversion".into(), crate::count(r.null_paths)));
    // Channels in the order of the first data-driven model (else the first model).
    let lead = r.models.iter().find(|m| m.model.starts_with("markov")).or_else(|| r.models.first());
    let channels: Vec<String> =
        lead.map(|m| m.channels.iter().map(|c| c.channel.clone()).collect()).unwrap_or_default();
    let series: Vec<Series> = r
        .models
        .iter()
        .map(|m| Series {
            name: m.order.map_or_else(|| m.model.clone(), |o| format!("{} (order {o})", m.model)),
            values: channels.iter().map(|ch| m.channels.iter().find(|c| &c.channel == ch).map(|c| c.share)).collect(),
        })
        .collect();
    if !channels.is_empty() {
        v.charts.push(chart::hbars(
            "shares",
            "Share of conversions credited to each channel, by model",
            &channels,
            &series,
            crate::pct,
        ));
    }
    let mut t = Table::new("credits", &["model", "channel", "conversions", "value", "share", "removal_effect"]);
    for m in &r.models {
        for c in &m.channels {
            t.push(vec![
                Cell::text(&m.model),
                Cell::text(&c.channel),
                Cell::num(c.conversions),
                Cell::num(c.value),
                Cell::num(c.share),
                Cell::opt(c.removal_effect),
            ]);
        }
    }
    v.tables.push(t);
    v
}

pub fn personas(r: &DiscoveredReport) -> View {
    let mut v = View { title: "Personas".into(), ..View::default() };
    v.kpis.push(("Customers".into(), crate::count(r.customers)));
    v.kpis.push(("Personas found".into(), r.k.to_string()));
    v.kpis.push(("Chosen by".into(), r.chosen_by.clone()));
    let names: Vec<String> = r.personas.iter().map(|p| p.name.clone()).collect();
    let size =
        [Series { name: "customers".into(), values: r.personas.iter().map(|p| Some(p.customers as f64)).collect() }];
    v.charts.push(chart::hbars("sizes", "Customers per persona", &names, &size, num_fmt));
    let clv = [
        Series { name: "mean revenue".into(), values: r.personas.iter().map(|p| Some(p.mean_revenue)).collect() },
        Series { name: "mean predicted CLV".into(), values: r.personas.iter().map(|p| p.mean_predicted_clv).collect() },
    ];
    v.charts.push(chart::hbars("value", "Value per customer", &names, &clv, crate::money));
    let mut t = Table::new(
        "personas",
        &[
            "persona",
            "description",
            "customers",
            "share",
            "favourite_channel",
            "buyer_share",
            "mean_revenue",
            "mean_predicted_clv",
            "nps",
            "typical_path",
            "top_pain_point",
        ],
    );
    for p in &r.personas {
        t.push(vec![
            Cell::text(&p.name),
            Cell::text(&p.description),
            Cell::int(p.customers),
            Cell::num(p.share),
            Cell::text(p.favourite_channel.as_deref().unwrap_or("")),
            Cell::num(p.buyers),
            Cell::num(p.mean_revenue),
            Cell::opt(p.mean_predicted_clv),
            Cell::opt(p.nps),
            Cell::text(p.typical_path.join(" → ")),
            Cell::text(p.top_pain_point.as_deref().unwrap_or("")),
        ]);
    }
    v.tables.push(t);
    v
}

fn scores_table(name: &str, rows: &[Scores]) -> Table {
    let mut t = Table::new(
        name,
        &[
            "group",
            "nps",
            "nps_margin",
            "nps_n",
            "csat_satisfied_share",
            "csat_n",
            "ces_mean",
            "ces_n",
            "sentiment_mean",
            "sentiment_n",
        ],
    );
    for s in rows {
        t.push(vec![
            Cell::text(&s.group),
            Cell::opt(s.nps.as_ref().map(|n| n.score)),
            Cell::opt(s.nps.as_ref().map(|n| n.margin_of_error)),
            s.nps.as_ref().map_or(Cell::Empty, |n| Cell::int(n.n)),
            Cell::opt(s.csat.as_ref().map(|c| c.satisfied_share)),
            s.csat.as_ref().map_or(Cell::Empty, |c| Cell::int(c.n)),
            Cell::opt(s.ces.as_ref().map(|c| c.mean)),
            s.ces.as_ref().map_or(Cell::Empty, |c| Cell::int(c.n)),
            Cell::opt(s.sentiment.as_ref().map(|c| c.mean)),
            s.sentiment.as_ref().map_or(Cell::Empty, |c| Cell::int(c.n)),
        ]);
    }
    t
}

pub fn surveys(r: &SurveysReport) -> View {
    let mut v = View { title: "Surveys".into(), ..View::default() };
    v.kpis.push(("Respondents".into(), crate::count(r.respondents)));
    if let Some(n) = &r.overall.nps {
        v.kpis.push(("NPS".into(), format!("{:+.0} ± {:.0}", n.score, n.margin_of_error)));
    }
    if let Some(c) = &r.overall.csat {
        v.kpis.push(("CSAT (satisfied)".into(), crate::pct(c.satisfied_share)));
    }
    if let Some(c) = &r.overall.ces {
        v.kpis.push(("CES (mean, 1–7)".into(), format!("{:.2}", c.mean)));
    }
    let labels: Vec<String> = r.by_period.iter().map(|s| s.group.clone()).collect();
    let nps =
        [Series { name: "NPS".into(), values: r.by_period.iter().map(|s| s.nps.as_ref().map(|n| n.score)).collect() }];
    v.charts.push(chart::lines("nps-trend", "NPS by period", &labels, &nps, false));
    let groups: Vec<String> = r.by_persona.iter().map(|s| s.group.clone()).collect();
    let nps =
        [Series { name: "NPS".into(), values: r.by_persona.iter().map(|s| s.nps.as_ref().map(|n| n.score)).collect() }];
    if !groups.is_empty() {
        v.charts.push(chart::hbars("nps-by-persona", "NPS by persona", &groups, &nps, |x| format!("{x:+.0}")));
    }
    let stages: Vec<String> = r.by_stage.iter().map(|s| s.group.clone()).collect();
    let sent = [Series {
        name: "sentiment".into(),
        values: r.by_stage.iter().map(|s| s.sentiment.as_ref().map(|x| x.mean)).collect(),
    }];
    v.charts.push(chart::hbars(
        "sentiment-by-stage",
        "Mean sentiment of texts by stage (−1..1)",
        &stages,
        &sent,
        |x| format!("{x:+.2}"),
    ));
    v.tables.push(scores_table("by-touchpoint", &r.by_touchpoint));
    v.tables.push(scores_table("by-channel", &r.by_channel));
    let mut t = Table::new("terms", &["stage", "positive", "negative"]);
    for s in &r.terms {
        t.push(vec![Cell::text(&s.stage), Cell::text(s.positive.join(", ")), Cell::text(s.negative.join(", "))]);
    }
    v.tables.push(t);
    v
}

/// Discovery: per dimension, the value per customer brought as bars and
/// the sources' table.
pub fn discovery(r: &wayfarer_engine::discovery::DiscoveryReport) -> View {
    let mut v = View { title: "Discovery".into(), ..View::default() };
    v.kpis.push(("Customers".into(), crate::count(r.customers)));
    v.kpis.push(("With a purchase".into(), crate::count(r.buyers)));
    if !r.has_clv {
        v.notes.push("No CLV: too few purchases with revenue to predict it; sources are ranked by conversion.".into());
    }
    for t in &r.tables {
        let names: Vec<String> = t.sources.iter().map(|s| s.source.clone()).collect();
        if r.has_clv && !names.is_empty() {
            v.charts.push(chart::hbars(
                &format!("value-by-{}", t.dimension),
                &format!("Value per customer brought, by first {} (conversion × buyers' 12-month CLV)", t.dimension),
                &names,
                &[Series {
                    name: "value per customer".into(),
                    values: t.sources.iter().map(|s| s.value_per_customer).collect(),
                }],
                crate::money,
            ));
        }
        let mut tab = Table::new(
            &format!("by-{}", t.dimension),
            &[
                "source",
                "customers",
                "buyers",
                "conversion",
                "conversion_low",
                "conversion_high",
                "median_days_to_purchase",
                "mean_clv",
                "clv_low",
                "clv_high",
                "value_per_customer",
            ],
        );
        for s in &t.sources {
            tab.push(vec![
                Cell::text(&s.source),
                Cell::int(s.customers),
                Cell::int(s.buyers),
                Cell::num(s.conversion),
                Cell::num(s.conversion_low),
                Cell::num(s.conversion_high),
                Cell::opt(s.median_days_to_purchase),
                Cell::opt(s.mean_clv),
                Cell::opt(s.clv_low),
                Cell::opt(s.clv_high),
                Cell::opt(s.value_per_customer),
            ]);
        }
        v.tables.push(tab);
        if t.small_sources > 0 {
            v.notes.push(format!(
                "By first {}: {} smaller sources ({} customers) are left out (min customers).",
                t.dimension,
                crate::count(t.small_sources),
                crate::count(t.small_customers)
            ));
        }
    }
    v
}

/// Loyalty: the share reaching each action by persona, and the journeys before.
pub fn loyalty(r: &wayfarer_engine::loyalty::LoyaltyReport) -> View {
    let mut v = View { title: "Loyalty".into(), ..View::default() };
    v.kpis.push(("Customers".into(), crate::count(r.customers)));
    for a in &r.actions {
        v.kpis.push((a.name.clone(), crate::pct(a.share)));
    }
    let actions: Vec<String> = r.actions.iter().map(|a| a.name.clone()).collect();
    let personas: Vec<&String> =
        r.personas.iter().filter(|p| r.actions.iter().any(|a| a.by_persona.iter().any(|s| &s.persona == *p))).collect();
    let series: Vec<Series> = personas
        .iter()
        .map(|p| Series {
            name: (*p).clone(),
            values: r.actions.iter().map(|a| a.by_persona.iter().find(|s| &s.persona == *p).map(|s| s.share)).collect(),
        })
        .collect();
    if !actions.is_empty() {
        v.charts.push(chart::hbars(
            "by-persona",
            "Share of customers who reach each action, by persona",
            &actions,
            &series,
            crate::pct,
        ));
    }
    let mut t =
        Table::new("journeys", &["action", "journey_before", "reached", "reached_share", "others_share", "lift"]);
    for a in &r.actions {
        for j in &a.journeys {
            t.push(vec![
                Cell::text(&a.name),
                Cell::text(j.path.join(" → ")),
                Cell::int(j.reached),
                Cell::num(j.reached_share),
                Cell::num(j.others_share),
                Cell::opt(j.lift),
            ]);
        }
    }
    v.tables.push(t);
    v.notes.push(
        "Journey: the last events before the session of the first time; beside it, how often the customers who never took the action ended their journeys that way (lift = the two shares' ratio)."
            .into(),
    );
    if !r.absent.is_empty() {
        v.notes.push(format!("Not in the data (left out): {}.", r.absent.join(", ")));
    }
    v
}

/// Draws dated annotations (date, text) on the view's charts over periods
/// (a funnel's trend, churn, NPS by period); returns how many were drawn.
pub fn annotate(v: &mut View, annotations: &[(String, String)]) -> usize {
    let mut drawn = 0;
    for c in v.charts.iter_mut().filter(|c| matches!(c.id.as_str(), "trend" | "churn" | "nps-trend")) {
        let labels: Vec<String> = c.data.rows.iter().filter_map(|r| r.first().map(Cell::raw)).collect();
        drawn += chart::mark_dates(c, &labels, annotations);
    }
    if drawn > 0 {
        v.notes.push("Dashed lines: annotations (`wayfarer annotate DATE TEXT`, or the What changed page).".into());
    }
    drawn
}
