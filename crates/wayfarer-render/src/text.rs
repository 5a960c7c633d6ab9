//! The journey map as a terminal table: stages as columns, one row per lane,
//! then the top pain points and opportunities with their evidence.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use wayfarer_engine::journey::JourneyMap;
use wayfarer_engine::sessions::SessionsReport;

use crate::{count, counted, duration, emotion, money, opt_pct, pct};

/// Renders the map for a terminal of `width` columns.
pub fn journey_table(map: &JourneyMap, width: u16) -> String {
    let mut out = String::new();
    let scope = &map.scope;
    let who = scope.persona.as_deref().unwrap_or("All customers");
    let mut header = format!(
        "Journey map — {who}: {}, {}, {}",
        counted(scope.customers, "customer"),
        counted(scope.events, "event"),
        if scope.has_revenue { format!("revenue {}", money(scope.revenue)) } else { "no revenue in the data".into() }
    );
    let from = scope.from.as_deref().unwrap_or(&scope.data_start);
    let to = scope.to.as_deref().unwrap_or(&scope.data_end);
    header.push_str(&format!("\n{} .. {}\n", &from[..from.len().min(10)], &to[..to.len().min(10)]));
    out.push_str(&header);

    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(width);
    let mut head = vec![Cell::new("")];
    head.extend(map.stages.iter().map(|s| Cell::new(&s.name).set_alignment(CellAlignment::Center)));
    table.set_header(head);
    let row = |label: &str, f: &dyn Fn(&wayfarer_engine::journey::StageReport) -> String| {
        let mut r = vec![Cell::new(label)];
        r.extend(map.stages.iter().map(|s| Cell::new(f(s))));
        r
    };
    table.add_row(row("Customers reached", &|s| format!("{}\n{}", count(s.customers), pct(s.share))));
    table.add_row(row("Conversion to next", &|s| {
        s.conversion_to_next.map_or("–".into(), |c| format!("{}\n({} drop)", pct(c), count(s.dropped)))
    }));
    table.add_row(row("Time to next\nmedian (p90)", &|s| {
        if s.median_time_to_next_seconds.is_none() {
            "–".into()
        } else {
            format!("{}\n({})", duration(s.median_time_to_next_seconds), duration(s.p90_time_to_next_seconds))
        }
    }));
    table.add_row(row("Top touchpoints\n(lift)", &|s| {
        s.touchpoints
            .iter()
            .take(3)
            .map(|t| match t.lift {
                Some(l) => format!("{} ×{l:.1}", t.name),
                None => t.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }));
    table.add_row(row("Favourite channel\n(reach by · stands out)", &|s| {
        let mut v = s.channels.first().map_or("–".into(), |c| format!("{} {}", c.channel, pct(c.share)));
        let share = |name: &str| s.channels.iter().find(|c| c.channel == name);
        if let Some(a) = s.actionable_channel.as_deref().filter(|a| s.favourite_channel.as_deref() != Some(*a))
            && let Some(c) = share(a)
        {
            v.push_str(&format!("\nreach by {} {}", c.channel, pct(c.share)));
        }
        if let Some(c) = s.distinctive_channel.as_deref().and_then(share) {
            v.push_str(&format!("\n{} ×{:.1}", c.channel, c.lift.unwrap_or(1.0)));
        }
        v
    }));
    table.add_row(row("Emotion (n)", &|s| {
        if !map.scope.has_emotion {
            return "no scores or texts in the data".into();
        }
        let mut v = format!("{} ({})", emotion(s.emotion.score), count(s.emotion.n));
        if let Some(n) = &s.emotion.nps {
            v.push_str(&format!("\nNPS {:+.0}", n.score));
        }
        v
    }));
    table.add_row(row("Value of those\nstopped here", &|s| {
        let v = &s.value;
        if v.customers == 0 {
            return "–".into();
        }
        if !map.scope.has_revenue {
            return format!("{} now\nno revenue in the data", count(v.customers));
        }
        let mut t = format!("{} now\n{} to date", count(v.customers), v.mean_revenue.map_or("–".into(), money));
        if let Some(c) = v.mean_predicted_clv {
            t.push_str(&format!("\nCLV {}", money(c)));
        }
        t
    }));
    table.add_row(row("Top pain point", &|s| s.pain_points.first().map_or("–".into(), |p| p.title.clone())));
    out.push_str(&table.to_string());
    out.push('\n');

    if !map.pain_points.is_empty() {
        out.push_str(&format!(
            "\nPain points (most severe first){}\n",
            crate::shown(5.min(map.pain_points.len()), map.pain_points.len())
        ));
        for (i, p) in map.pain_points.iter().take(5).enumerate() {
            out.push_str(&format!(
                "{:>2}. [{}] {}\n    {} — {} {} vs {} {}{} · severity {:.0}\n",
                i + 1,
                p.kind.label(),
                p.title,
                p.evidence,
                p.metric,
                fmt_value(&p.metric, p.value),
                fmt_value(&p.metric, p.baseline),
                p.baseline_label,
                p.p_value.map_or(String::new(), |v| format!(", p={}", fmt_p(v))),
                p.severity
            ));
        }
    }
    if !map.opportunities.is_empty() {
        out.push_str(&format!(
            "\nOpportunities{} (each estimated on its own: the groups overlap, so the estimates do not add up)\n",
            crate::shown(5.min(map.opportunities.len()), map.opportunities.len())
        ));
        for (i, o) in map.opportunities.iter().take(5).enumerate() {
            let impact = match (o.expected_conversions, o.expected_revenue) {
                (Some(c), Some(r)) => format!("≈{c:.0} more customers moving on, ≈{}", money(r)),
                (Some(c), None) => format!("≈{c:.0} more customers moving on"),
                _ => "impact not estimated".to_string(),
            };
            out.push_str(&format!(
                "{:>2}. {}\n    {} — concerns {}; {impact}\n",
                i + 1,
                o.title,
                o.action,
                counted(o.customers, "customer")
            ));
        }
    }
    out
}

fn fmt_value(metric: &str, v: f64) -> String {
    if metric.contains("seconds") {
        duration(Some(v))
    } else if metric.contains("emotion") {
        emotion(Some(v))
    } else {
        opt_pct(Some(v))
    }
}

/// Formats a p-value compactly.
pub fn fmt_p(p: f64) -> String {
    if p < 1e-4 { "<0.0001".to_string() } else { format!("{p:.4}") }
}

/// The sessions summary as a small table.
pub fn sessions_table(r: &SessionsReport) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["customers", "events", "sessions", "bounce", "engaged", "total duration", "mean duration"]);
    let mean = if r.sessions > 0 { r.total_duration_seconds / r.sessions as f64 } else { 0.0 };
    t.add_row(vec![
        count(r.customers),
        count(r.events),
        count(r.sessions),
        format!(
            "{} ({})",
            count(r.bounce_sessions),
            opt_pct((r.sessions > 0).then(|| r.bounce_sessions as f64 / r.sessions as f64))
        ),
        format!(
            "{} ({})",
            count(r.engaged_sessions),
            opt_pct((r.sessions > 0).then(|| r.engaged_sessions as f64 / r.sessions as f64))
        ),
        duration(Some(r.total_duration_seconds)),
        duration(Some(mean)),
    ]);
    t.to_string()
}

/// A horizontal bar of `width` characters for a share in [0, 1].
fn bar(share: f64, width: usize) -> String {
    let filled = (share.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// The funnel as a table: one row per step, then the time to convert.
pub fn funnel_table(r: &wayfarer_engine::funnel::FunnelReport) -> String {
    let unit = r.unit.noun();
    let mut out = format!(
        "Funnel over {} {unit} · window {} · mode {}\n",
        count(r.customers),
        duration(Some(r.window_seconds)),
        serde_json::to_value(r.mode).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "#",
        "step",
        unit,
        "",
        "from first",
        "from previous",
        "base rate",
        "lift",
        "median time from previous",
    ]);
    for (i, s) in r.steps.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            s.name.clone(),
            count(s.customers),
            bar(s.conversion_from_first.unwrap_or(0.0), 24),
            opt_pct(s.conversion_from_first),
            opt_pct(s.conversion_from_previous),
            opt_pct(s.base_rate),
            s.lift.map_or("–".to_string(), |l| format!("{l:.2}×")),
            duration(s.median_seconds_from_previous),
        ]);
    }
    out.push_str(&t.to_string());
    out.push_str("\nBase rate: the share who did the step at all, in any order; lift: from previous ÷ base rate.\n");
    if r.steps.iter().any(|s| s.optional) {
        out.push_str("?STEP is optional: the step after it converts from the step before it.\n");
    }
    let levels: Vec<String> = r.level_counts.iter().enumerate().map(|(l, c)| format!("{l}: {}", count(*c))).collect();
    out.push_str(&format!("{} by furthest step — {}\n", capitalise(unit), levels.join(" · ")));
    if r.time_to_convert.customers > 0 {
        out.push_str(&format!("Time to convert (median {}):\n", duration(r.time_to_convert.median_seconds)));
        let max = r.time_to_convert.buckets.iter().map(|b| b.customers).max().unwrap_or(1).max(1);
        for b in &r.time_to_convert.buckets {
            out.push_str(&format!(
                "  {:<10} {} {}\n",
                b.label,
                bar(b.customers as f64 / max as f64, 30),
                count(b.customers)
            ));
        }
    }
    if !r.breakdown.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        let mut head = vec!["group".to_string(), unit.to_string()];
        head.extend(r.steps.iter().map(|s| s.name.clone()));
        t.set_header(head);
        for g in r.breakdown.iter().take(20) {
            let mut row = vec![g.group.clone(), count(g.customers)];
            row.extend(
                g.steps.iter().map(|s| format!("{} ({})", count(s.customers), opt_pct(s.conversion_from_first))),
            );
            t.add_row(row);
        }
        out.push_str(&format!("\nBreakdown{}\n{t}\n", crate::shown(20.min(r.breakdown.len()), r.breakdown.len())));
    }
    if !r.trend.is_empty() {
        out.push_str("\nConversion by period of step 1\n");
        for p in &r.trend {
            out.push_str(&format!(
                "  {}  {} {:>7} of {}\n",
                p.period_start,
                bar(p.conversion.unwrap_or(0.0), 24),
                opt_pct(p.conversion),
                count(p.entered)
            ));
        }
    }
    if let Some(prev) = &r.previous {
        out.push_str("\nCompared with the previous period\n");
        for (s, p) in r.steps.iter().zip(&prev.steps) {
            let delta = match (s.conversion_from_first, p.conversion_from_first) {
                (Some(a), Some(b)) => format!("{:+.1} pts", (a - b) * 100.0),
                _ => "–".to_string(),
            };
            out.push_str(&format!(
                "  {:<32} {:>8} now, {:>8} before ({delta})\n",
                s.name,
                opt_pct(s.conversion_from_first),
                opt_pct(p.conversion_from_first)
            ));
        }
    }
    if let Some(p) = &r.paths {
        out.push_str(&funnel_paths(p, &r.steps));
    }
    out
}

/// Paths: the top transitions and top paths.
pub fn paths_table(r: &wayfarer_engine::paths::PathsReport) -> String {
    let unit = r.unit.noun();
    let mut out = format!(
        "Paths of {} {unit}\n\nTop transitions{}\n",
        count(r.customers),
        crate::shown(15.min(r.transitions.len()), r.transitions.len())
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["from", "to", "count"]);
    for tr in r.transitions.iter().take(15) {
        t.add_row(vec![tr.from.clone(), tr.to.clone(), count(tr.count)]);
    }
    out.push_str(&t.to_string());
    out.push_str(&format!("\n\nTop paths ({} {unit} have one)\n", count(r.customers_with_path)));
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["path", unit, "share"]);
    for p in &r.top_paths {
        t.add_row(vec![p.path.join(" → "), count(p.customers), pct(p.share)]);
    }
    out.push_str(&t.to_string());
    out
}

/// The paths around a funnel's steps.
fn funnel_paths(
    p: &wayfarer_engine::funnel::context::FunnelPaths,
    steps: &[wayfarer_engine::funnel::StepReport],
) -> String {
    use wayfarer_engine::funnel::context::Around;
    let name = |i: usize| steps.get(i.saturating_sub(1)).map_or_else(|| format!("step {i}"), |s| s.name.clone());
    let table = |title: &str, side: &wayfarer_engine::funnel::context::PathsOf| {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![title.to_string(), "customers".into(), "share".into()]);
        for x in &side.paths {
            t.add_row(vec![x.path.join(" → "), count(x.customers), pct(x.share)]);
        }
        t.to_string()
    };
    let mut out = String::new();
    match p.around {
        Around::Before => {
            if let Some(c) = &p.converted {
                out += &format!("\n\nBefore '{}' ({} customers entered)\n", name(1), count(c.customers));
                out += &table("events before step 1", c);
            }
        }
        Around::Between(i) | Around::AfterDrop(i) => {
            if let Some(c) = &p.converted {
                out += &format!(
                    "\n\nBetween '{}' and '{}' ({} customers made it)\n",
                    name(i),
                    name(i + 1),
                    count(c.customers)
                );
                out += &table("events in between", c);
            }
            if let Some(d) = &p.dropped {
                out += &format!(
                    "\n\nAfter '{}', of the {} who went no further: what they did instead\n",
                    name(i),
                    count(d.customers)
                );
                out += &table("next events", d);
            }
        }
    }
    out
}

/// `paths --match`: who matches, what came right after and before, and the
/// paths around the match.
pub fn path_match(r: &wayfarer_engine::path_match::MatchReport) -> String {
    let mut out = format!(
        "Pattern {}
{} of {} customers match ({}), {} occurrences
",
        r.pattern,
        count(r.matched),
        count(r.customers),
        pct(r.share),
        count(r.occurrences)
    );
    if r.matched == 0 {
        out.push_str(
            "
Nobody matches: loosen the pattern (-> allows events in between, => does not).
",
        );
        return out;
    }
    let neighbours = |title: &str, list: &[wayfarer_engine::path_match::Neighbour]| {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![title, "customers", "share"]);
        for n in list {
            t.add_row(vec![n.event.clone(), count(n.customers), pct(n.share)]);
        }
        t.to_string()
    };
    let paths = |title: &str, list: &[wayfarer_engine::paths::TopPath]| {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![title, "customers", "share"]);
        for p in list {
            t.add_row(vec![p.path.join(" → "), count(p.customers), pct(p.share)]);
        }
        t.to_string()
    };
    out.push_str(
        "
Right after the match (the first occurrence per customer)
",
    );
    out.push_str(&neighbours("next event", &r.next));
    out.push_str(
        "

What they did next
",
    );
    out.push_str(&paths("next events", &r.next_paths));
    out.push_str(
        "

Right before the match
",
    );
    out.push_str(&neighbours("previous event", &r.previous));
    out.push_str(
        "

What led to it
",
    );
    out.push_str(&paths("previous events", &r.previous_paths));
    out.push_str(
        "

The matches
",
    );
    out.push_str(&paths("matched events", &r.matched_paths));
    out.push_str(&format!(
        "

Save them as a segment: wayfarer segments create NAME --where \"{}\"\n",
        r.segment_condition.replace('"', "\\\"")
    ));
    out
}

/// `paths --graph`: the busiest edges with their probabilities and times.
pub fn graph(r: &wayfarer_engine::graph::GraphReport, top: usize) -> String {
    let mut out = format!(
        "Transition graph of {} customers: {} nodes, {} edges{}\n",
        count(r.customers),
        r.nodes.len(),
        r.edges.len(),
        crate::shown(top.min(r.edges.len()), r.edges.len())
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["from", "to", "transitions", "customers", "P(next|from)", "P(prev|to)", "median", "p95"]);
    for e in r.edges.iter().take(top) {
        t.add_row(vec![
            e.from.clone(),
            e.to.clone(),
            count(e.count),
            count(e.customers),
            pct(e.p_next),
            pct(e.p_prev),
            wayfarer_core::time::format_duration_seconds(e.median_seconds),
            wayfarer_core::time::format_duration_seconds(e.p95_seconds),
        ]);
    }
    out.push_str(&t.to_string());
    out
}

/// `paths --graph --compare A --vs B`: the edges whose share differs
/// significantly, then the largest other differences.
pub fn graph_comparison(c: &wayfarer_engine::graph::GraphComparison, top: usize) -> String {
    let mut out = format!(
        "{} ({} customers) vs {} ({} customers): {} of {} edges differ significantly (Benjamini–Hochberg q < 5 %)\n\
         Share: of the customers who reached 'from', those who went straight on to 'to'.\n",
        c.a,
        count(c.a_customers),
        c.b,
        count(c.b_customers),
        c.significant,
        c.edges.len()
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["from", "to", &c.a, &c.b, "difference", "p", "q", ""]);
    for e in c.edges.iter().take(top) {
        t.add_row(vec![
            e.from.clone(),
            e.to.clone(),
            format!("{} ({}/{})", pct(e.a_share), count(e.a_customers), count(e.a_of)),
            format!("{} ({}/{})", pct(e.b_share), count(e.b_customers), count(e.b_of)),
            format!("{:+.1} pt", e.difference * 100.0),
            format!("{:.3}", e.p_value),
            format!("{:.3}", e.q_value),
            if e.significant { "significant".to_string() } else { String::new() },
        ]);
    }
    out.push_str(&t.to_string());
    out
}

fn step_table(
    steps: &[i32],
    rows: &[wayfarer_engine::step_matrix::StepRow],
    top: usize,
    cell: &dyn Fn(f64) -> String,
) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut head = vec!["event".to_string()];
    head.extend(steps.iter().map(|s| if *s > 0 { format!("+{s}") } else { s.to_string() }));
    t.set_header(head);
    // The rows with the highest peaks, in the matrix's order.
    let peak = |r: &wayfarer_engine::step_matrix::StepRow| r.shares.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mut by_peak: Vec<usize> = (0..rows.len()).collect();
    by_peak.sort_by(|&a, &b| peak(&rows[b]).total_cmp(&peak(&rows[a])));
    by_peak.truncate(top);
    by_peak.sort_unstable();
    for r in by_peak.into_iter().map(|i| &rows[i]) {
        let mut row = vec![r.event.clone()];
        row.extend(r.shares.iter().map(|&x| cell(x)));
        t.add_row(row);
    }
    t.to_string()
}

/// `paths --step-matrix`: the share of customers with each event at each step.
pub fn step_matrix(m: &wayfarer_engine::step_matrix::StepMatrix, top: usize) -> String {
    let mut out = match &m.anchor {
        Some(a) => format!("Steps around each customer's first '{a}' ({} customers have one)\n", count(m.customers)),
        None => format!("Steps from each customer's first event ({} customers)\n", count(m.customers)),
    };
    out.push_str(&format!(
        "{} of {} events (the most common at some step); ENDED: the path had ended\n",
        top.min(m.rows.len()),
        m.rows.len()
    ));
    out.push_str(&step_table(&m.steps, &m.rows, top, &|x| {
        if x == 0.0 {
            "·".into()
        } else if x < 0.005 {
            "<1%".into()
        } else {
            format!("{:.0}%", x * 100.0)
        }
    }));
    out
}

/// `paths --step-matrix --compare A --vs B`: A's shares minus B's.
pub fn step_difference(d: &wayfarer_engine::step_matrix::StepDifference, top: usize) -> String {
    let mut out = format!(
        "{} ({} customers) minus {} ({} customers), in points; the largest differences first\n",
        d.a,
        count(d.a_customers),
        d.b,
        count(d.b_customers)
    );
    out.push_str(&step_table(&d.steps, &d.rows, top, &|x| {
        if x == 0.0 {
            "·".into()
        } else if x.abs() < 0.005 {
            "~0".into()
        } else {
            format!("{:+.0}", x * 100.0)
        }
    }));
    out
}

/// Retention: the cohort grid, then lifecycle and churn per period.
pub fn retention_table(r: &wayfarer_engine::retention::RetentionReport) -> String {
    let mut out = format!(
        "Retention by {} cohort (share of the cohort active in each later {})\n",
        r.period.as_str(),
        r.period.as_str()
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut head = vec!["cohort".to_string(), "size".to_string()];
    head.extend((0..=r.periods).map(|i| format!("+{i}")));
    t.set_header(head);
    for c in &r.cohorts {
        let mut row = vec![c.cohort_start.clone(), count(c.size)];
        row.extend(
            c.retention
                .iter()
                .enumerate()
                .map(|(i, x)| if i < c.observed { format!("{:.0}%", x * 100.0) } else { String::new() }),
        );
        t.add_row(row);
    }
    out.push_str(&t.to_string());
    out.push_str("\n\nLifecycle\n");
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["period", "active", "new", "returning", "resurrecting", "dormant", "churn rate"]);
    for p in &r.lifecycle {
        t.add_row(vec![
            p.period_start.clone(),
            count(p.active),
            count(p.new),
            count(p.returning),
            count(p.resurrecting),
            count(p.dormant),
            opt_pct(p.churn_rate),
        ]);
    }
    out.push_str(&t.to_string());
    out
}

/// Surveys: one table per dimension, then the terms per stage.
pub fn surveys_table(r: &wayfarer_engine::surveys::SurveysReport) -> String {
    use wayfarer_engine::surveys::Scores;
    let table = |title: &str, rows: &[Scores]| -> String {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![title, "NPS (±moe, n)", "CSAT satisfied (mean, n)", "CES (n)", "sentiment (n)"]);
        for s in rows {
            t.add_row(vec![
                s.group.clone(),
                s.nps
                    .as_ref()
                    .map_or("–".into(), |n| format!("{:+.0} (±{:.0}, {})", n.score, n.margin_of_error, count(n.n))),
                s.csat
                    .as_ref()
                    .map_or("–".into(), |c| format!("{} ({:.2}, {})", pct(c.satisfied_share), c.mean, count(c.n))),
                s.ces.as_ref().map_or("–".into(), |c| format!("{:.2} ({})", c.mean, count(c.n))),
                s.sentiment.as_ref().map_or("–".into(), |c| format!("{:+.2} ({})", c.mean, count(c.n))),
            ]);
        }
        t.to_string()
    };
    let mut out = format!("Survey answers and comments of {} customers\n", count(r.respondents));
    out.push_str(&table("overall", std::slice::from_ref(&r.overall)));
    for (title, rows) in [
        ("stage", &r.by_stage),
        ("persona", &r.by_persona),
        ("channel", &r.by_channel),
        ("touchpoint", &r.by_touchpoint),
        (r.period.as_str(), &r.by_period),
    ] {
        out.push_str(&format!("\n\nBy {title}\n"));
        out.push_str(&table(title, &rows[..rows.len().min(15)]));
    }
    out.push_str("\n\nWhat comments say, by stage\n");
    for t in &r.terms {
        out.push_str(&format!(
            "  {:<14} negative: {}\n  {:<14} positive: {}\n",
            t.stage,
            if t.negative.is_empty() { "–".to_string() } else { t.negative.join(", ") },
            "",
            if t.positive.is_empty() { "–".to_string() } else { t.positive.join(", ") }
        ));
    }
    out
}

/// CLV: the fitted models, historic value by group, and the top customers.
pub fn clv_table(r: &wayfarer_engine::clv::ClvReport) -> String {
    let unit = serde_json::to_value(r.unit).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let mut out = format!(
        "Customer lifetime value · calibration to {} · {} purchasing customers ({} repeat)\n",
        r.calibration_end,
        count(r.customers),
        count(r.repeat_customers)
    );
    if let Some(m) = &r.bgnbd {
        out.push_str(&format!(
            "BG/NBD: r={} alpha={} a={} b={} (log-likelihood {:.1}, time in {unit}s)\n",
            crate::param(m.r),
            crate::param(m.alpha),
            crate::param(m.a),
            crate::param(m.b),
            m.log_likelihood
        ));
    }
    if let Some(g) = &r.gamma_gamma {
        out.push_str(&format!(
            "Gamma-Gamma: p={} q={} v={}\n",
            crate::param(g.p),
            crate::param(g.q),
            crate::param(g.v)
        ));
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    if let Some(p) = &r.predicted
        && !r.has_revenue
    {
        out.push_str(&format!(
            "Next {} {unit}s: {:.0} expected purchases (no revenue in the data, so no value in money)\n",
            r.horizon, p.expected_purchases
        ));
    } else if let Some(p) = &r.predicted {
        out.push_str(&format!(
            "Next {} {unit}s: {:.0} expected purchases, predicted CLV {} in total, {} mean, {} median (discount {:.1}%/month)\n",
            r.horizon,
            p.expected_purchases,
            money(p.clv),
            money(p.mean_clv),
            money(p.median_clv.unwrap_or(0.0)),
            r.discount_rate * 100.0
        ));
    }
    if !r.has_revenue {
        out.push_str(&format!(
            "Historic: {} purchasers of {} customers; no revenue in the data\n",
            count(r.historic.purchasers),
            count(r.historic.customers)
        ));
    } else {
        out.push_str(&format!(
            "Historic: {} revenue from {} customers ({} mean, {} median per purchaser)\n",
            money(r.historic.revenue),
            count(r.historic.customers),
            money(r.historic.mean),
            money(r.historic.median_purchaser.unwrap_or(0.0))
        ));
    }
    let money = |x: f64| if r.has_revenue { money(x) } else { "–".to_string() };
    let groups = |title: &str, gs: &[wayfarer_engine::clv::ValueGroup]| -> String {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            title,
            "customers",
            "purchasers",
            "revenue",
            "mean",
            "median purchaser",
            "mean predicted CLV",
        ]);
        for g in gs {
            t.add_row(vec![
                g.group.clone(),
                count(g.customers),
                count(g.purchasers),
                money(g.revenue),
                money(g.mean),
                g.median_purchaser.map_or("–".into(), money),
                g.mean_predicted_clv.map_or("–".into(), money),
            ]);
        }
        format!("\n{t}\n")
    };
    out.push_str(&groups("acquisition month", &r.historic.by_cohort));
    out.push_str(&groups("first channel", &r.historic.by_first_channel));
    if !r.historic.by_persona.is_empty() {
        out.push_str(&groups("persona", &r.historic.by_persona));
    }
    if !r.customer_values.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "customer",
            "frequency",
            "recency",
            "T",
            "monetary",
            "P(alive)",
            "expected purchases",
            "CLV",
        ]);
        for c in r.customer_values.iter().take(50) {
            t.add_row(vec![
                c.customer_id.clone(),
                c.frequency.to_string(),
                format!("{:.1}", c.recency),
                format!("{:.1}", c.t),
                money(c.monetary),
                pct(c.p_alive),
                format!("{:.2}", c.expected_purchases),
                money(c.clv),
            ]);
        }
        let n = r.customer_values.len();
        out.push_str(&format!("\nCustomers{}\n{t}\n", crate::shown(50.min(n), n)));
    }
    out
}

/// Discovered personas and their comparison with the hand-written ones.
pub fn personas_table(r: &wayfarer_engine::personas::DiscoveredReport) -> String {
    let mut out = format!(
        "{} personas discovered among {} customers (k by {}{})\n",
        r.k,
        count(r.customers),
        r.chosen_by,
        if r.silhouettes.is_empty() {
            String::new()
        } else {
            format!(
                "; silhouette {}",
                r.silhouettes.iter().map(|(k, s)| format!("k={k}: {s:.3}")).collect::<Vec<_>>().join(", ")
            )
        }
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(160);
    t.set_header(vec![
        "persona",
        "customers",
        "favourite channel",
        "typical path",
        "buyers · median value\npredicted CLV",
        "NPS",
        "top pain point",
    ]);
    for p in &r.personas {
        t.add_row(vec![
            format!("{}\n{}", p.name, p.description),
            format!("{}\n{}", count(p.customers), pct(p.share)),
            p.favourite_channel.clone().unwrap_or_else(|| "–".into()),
            p.typical_path.join(" → "),
            format!(
                "{} · {}\n{}",
                pct(p.buyers),
                p.median_revenue.map_or("–".into(), money),
                p.mean_predicted_clv.map_or("–".into(), money)
            ),
            p.nps.map_or("–".into(), |n| format!("{n:+.0} (n={})", p.nps_responses)),
            p.top_pain_point.clone().unwrap_or_else(|| "–".into()),
        ]);
    }
    out.push_str(&t.to_string());
    if let Some(c) = &r.compared_with_hand_written {
        out.push_str(&format!(
            "\n\nHand-written personas (rows) against discovered ones (columns); adjusted Rand index {:.3}\n",
            c.adjusted_rand_index
        ));
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        let mut head = vec!["".to_string()];
        if let Some((_, cells)) = c.table.first() {
            head.extend(cells.iter().map(|(n, _)| n.clone()));
        }
        t.set_header(head);
        for (name, cells) in &c.table {
            let mut row = vec![name.clone()];
            row.extend(cells.iter().map(|(_, n)| count(*n)));
            t.add_row(row);
        }
        out.push_str(&t.to_string());
    }
    out
}

/// Attribution: channels as rows, each model's attributed conversions as
/// columns (one model also shows value, share and removal effect).
pub fn attribution_table(r: &wayfarer_engine::attribution::AttributionReport) -> String {
    let mut out = format!(
        "Attribution of {} {}'{}' conversions ({} value) from {} customers: {} converting paths, {} non-converting, {} distinct{}\n",
        count(r.total_conversions as u64),
        if r.first_conversion_only { "first " } else { "" },
        r.conversion_event,
        money(r.total_value),
        count(r.customers),
        count(r.converting_paths),
        count(r.null_paths),
        count(r.distinct_paths),
        r.lookback_days.map_or(String::new(), |d| format!(", lookback {d:.0} days")),
    );
    if r.unattributed_conversions > 0 {
        out.push_str(&format!(
            "{} conversions had no channel touch and are not credited to any channel.\n",
            count(r.unattributed_conversions)
        ));
    }
    let Some(first) = r.models.first() else { return out };
    let mut channels: Vec<&str> = first.channels.iter().map(|c| c.channel.as_str()).collect();
    // Rows follow the data-driven model when there is one.
    if let Some(m) = r.models.iter().find(|m| m.model == "markov").or_else(|| r.models.last()) {
        channels = m.channels.iter().map(|c| c.channel.as_str()).collect();
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    let title = |m: &wayfarer_engine::attribution::ModelResult| match m.order {
        Some(o) => format!("{} (order {o})", m.model),
        None => m.model.clone(),
    };
    if let [m] = r.models.as_slice() {
        let mut header = vec!["channel".to_string(), title(m), "share".into(), "value".into()];
        let markov = m.channels.iter().any(|c| c.removal_effect.is_some());
        if markov {
            header.push("removal effect".into());
        }
        t.set_header(header);
        for c in &m.channels {
            let mut row = vec![
                Cell::new(&c.channel),
                Cell::new(format!("{:.1}", c.conversions)).set_alignment(CellAlignment::Right),
                Cell::new(pct(c.share)).set_alignment(CellAlignment::Right),
                Cell::new(money(c.value)).set_alignment(CellAlignment::Right),
            ];
            if markov {
                row.push(Cell::new(opt_pct(c.removal_effect)).set_alignment(CellAlignment::Right));
            }
            t.add_row(row);
        }
    } else {
        let mut header = vec!["channel".to_string()];
        header.extend(r.models.iter().map(title));
        t.set_header(header);
        for ch in channels {
            let mut row = vec![Cell::new(ch)];
            for m in &r.models {
                let v = m.channels.iter().find(|c| c.channel == ch);
                row.push(
                    Cell::new(v.map_or("–".into(), |c| format!("{:.1} ({})", c.conversions, pct(c.share))))
                        .set_alignment(CellAlignment::Right),
                );
            }
            t.add_row(row);
        }
    }
    out.push_str(&t.to_string());
    out.push_str("\nAttributed conversions (share). Markov: removal effects of the chain, exact; Shapley: the simplified Shapley value over channel sets (Zhao et al. 2018).\n");
    out
}

fn clip60(s: &str) -> String {
    if s.chars().count() <= 60 { s.to_string() } else { s.chars().take(59).collect::<String>() + "…" }
}

/// One customer's profile: a summary, then the timeline.
pub fn customer_profile(p: &wayfarer_engine::customers::CustomerProfile) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("{k:<15} {v}\n"));
    line(&mut out, "Customer", p.customer_id.clone());
    line(&mut out, "Identities", p.identities.join(", "));
    if !p.traits.is_empty() {
        let traits: Vec<String> = p
            .traits
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect();
        line(&mut out, "Traits", traits.join(", "));
    }
    line(
        &mut out,
        "Seen",
        format!("{} – {}", p.first_seen.as_deref().unwrap_or("–"), p.last_seen.as_deref().unwrap_or("–")),
    );
    line(&mut out, "Activity", format!("{} events in {} sessions", count(p.events), count(u64::from(p.sessions))));
    line(&mut out, "Stage", p.current_stage.clone().unwrap_or_else(|| "–".into()));
    if let Some(persona) = &p.persona {
        line(&mut out, "Persona", persona.clone());
    }
    line(&mut out, "Purchases", format!("{} · {}", p.purchases, money(p.revenue)));
    let ch: Vec<String> = p.channels.iter().map(|c| format!("{} {}", c.channel, c.events)).collect();
    line(&mut out, "Channels", ch.join(", "));
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec!["time", "event", "channel", "session", "stage", "revenue", "text"]);
    for e in &p.timeline {
        t.add_row(vec![
            Cell::new(&e.timestamp),
            Cell::new(&e.event),
            Cell::new(&e.channel),
            Cell::new(e.session).set_alignment(CellAlignment::Right),
            Cell::new(e.stage.as_deref().unwrap_or("")),
            Cell::new(e.revenue.map(money).unwrap_or_default()).set_alignment(CellAlignment::Right),
            Cell::new(e.text.as_deref().map(clip60).unwrap_or_default()),
        ]);
    }
    if p.timeline_truncated {
        out.push_str(&format!("(the latest {} events)\n", p.timeline.len()));
    }
    out.push_str(&t.to_string());
    out
}

/// `wayfarer doctor`'s findings, worst first within the original order.
pub fn doctor(r: &wayfarer_engine::doctor::DoctorReport) -> String {
    use wayfarer_engine::doctor::Level;
    let mut out = format!(
        "Checked {} and {} against the configuration:\n",
        counted(r.customers, "customer"),
        counted(r.events, "event")
    );
    for c in &r.checks {
        let mark = match c.level {
            Level::Ok => "  ok     ",
            Level::Warning => "  warning",
            Level::Problem => "  PROBLEM",
        };
        out.push_str(&format!("{mark}  {}\n", c.message));
        for item in &c.items {
            out.push_str(&format!("             {item}\n"));
        }
    }
    out
}

/// `wayfarer nba`: each channel's raw and adjusted effect on moving a
/// stage's customers to the next, recommended ones marked.
pub fn nba(r: &wayfarer_engine::nba::NbaReport) -> String {
    let mut out = format!(
        "{} → {}{}: {} of {} moved on ({})\n",
        r.stage,
        r.next_stage,
        r.persona.as_ref().map_or_else(String::new, |p| format!(" ({p})")),
        count(r.advanced),
        counted(r.customers, "customer"),
        pct(r.base_rate)
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header([
        "channel",
        "with it",
        "moved on with",
        "without",
        "lift",
        "p",
        "adjusted effect (log-odds, 95 % CI)",
        "p",
        "",
    ]);
    for a in &r.actions {
        t.add_row([
            Cell::new(&a.channel),
            Cell::new(count(a.customers_with)).set_alignment(CellAlignment::Right),
            Cell::new(pct(a.rate_with)).set_alignment(CellAlignment::Right),
            Cell::new(pct(a.rate_without)).set_alignment(CellAlignment::Right),
            Cell::new(a.lift.map_or("–".into(), |l| format!("×{l:.2}"))).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3}", a.p_value)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:+.2} ({:+.2} to {:+.2})", a.effect, a.effect_ci.0, a.effect_ci.1))
                .set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3}", a.effect_p_value)).set_alignment(CellAlignment::Right),
            Cell::new(if a.recommended { "recommended" } else { "" }),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    if r.recommended.is_empty() {
        out.push_str("No channel has a significant positive effect.\n");
    } else {
        out.push_str(&format!("Recommended, best first: {}\n", r.recommended.join(", ")));
    }
    if !r.too_few.is_empty() {
        out.push_str(&format!("Too few customers to judge: {}\n", r.too_few.join(", ")));
    }
    out
}

/// The word with its first letter in upper case.
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// Two maps compared: per group a table of stages × measures (A → B, ▲
/// better or ▼ worse where significant), then the pain points' changes.
pub fn map_comparison(c: &wayfarer_engine::journey::compare::MapComparison, width: u16) -> String {
    use wayfarer_engine::journey::compare::{Change, PainStatus};
    let side = |s: &wayfarer_engine::journey::compare::Side| {
        let range = match (&s.from, &s.to) {
            (None, None) => String::new(),
            (f, t) => format!(
                " {}..{}",
                f.as_deref().map_or("", |x| wayfarer_core::time::prefix(x, 10)),
                t.as_deref().map_or("", |x| wayfarer_core::time::prefix(x, 10))
            ),
        };
        let range = if s.label.contains("..") { String::new() } else { range };
        format!("{}{range} ({})", s.label, counted(s.customers, "customer"))
    };
    let mut out = format!("What changed: {} → {}\n", side(&c.a), side(&c.b));
    out.push_str(&format!(
        "{} tests; {} significant at a {:.0} % false-discovery rate (▲ better, ▼ worse; nothing else is flagged).\n",
        count(c.tests as u64),
        count(c.significant as u64),
        c.fdr * 100.0
    ));
    if let Some(h) = c.horizon_seconds {
        out.push_str(&format!(
            "Reach: of the customers first seen in each period; conversion and time: of those who entered \
             the stage in the period, followed for {} (whole histories).\n",
            duration(Some(h))
        ));
    }
    for w in &c.warnings {
        out.push_str(&format!("Note: {w}\n"));
    }
    let mark = |ch: &Change| match (ch.significant, ch.better) {
        (true, Some(true)) => " ▲",
        (true, Some(false)) => " ▼",
        _ => "",
    };
    let share =
        |ch: &Change| format!("{} → {}{}", ch.a.map_or("–".into(), pct), ch.b.map_or("–".into(), pct), mark(ch));
    let time = |ch: &Change| format!("{} → {}{}", duration(ch.a), duration(ch.b), mark(ch));
    let score = |ch: &Change, digits: usize| {
        let f = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:+.digits$}"));
        format!("{} → {}{}", f(ch.a), f(ch.b), mark(ch))
    };
    for g in &c.groups {
        let who = g.persona.as_deref().unwrap_or("All customers");
        out.push_str(&format!("\n{who} ({} → {})\n", count(g.a_customers), count(g.b_customers)));
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(width);
        t.set_header(vec!["stage", "reach", "conversion to next", "median time to next", "emotion", "NPS"]);
        for s in &g.stages {
            t.add_row(vec![
                s.stage.clone(),
                share(&s.reach),
                s.conversion.as_ref().map_or("–".into(), share),
                s.time_to_next.as_ref().map_or("–".into(), time),
                s.emotion.as_ref().map_or("–".into(), |e| score(e, 2)),
                s.nps.as_ref().map_or("–".into(), |e| score(e, 0)),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    if !c.unmatched_personas.is_empty() {
        out.push_str(&format!("Personas on one side only (not compared): {}\n", c.unmatched_personas.join(", ")));
    }
    let changed: Vec<_> =
        c.pain_points.iter().filter(|p| !matches!(p.status, PainStatus::Unchanged | PainStatus::OneSide)).collect();
    let one_side = c.pain_points.iter().filter(|p| p.status == PainStatus::OneSide).count();
    out.push_str(&format!(
        "\nPain points: {} changed significantly, {} unchanged, {one_side} found on one side only without a significant change\n",
        changed.len(),
        c.pain_points.len() - changed.len() - one_side
    ));
    for p in changed {
        let v = |s: &Option<wayfarer_engine::journey::compare::PainSide>| {
            s.as_ref().map_or("–".to_string(), |s| fmt_value(&p.metric, s.value))
        };
        let q = p.q_value.map_or(String::new(), |q| format!(", q = {}", fmt_p(q)));
        out.push_str(&format!("  {:<9} {} ({}: {} → {}{q})\n", p.status.label(), p.title, p.metric, v(&p.a), v(&p.b)));
    }
    out
}

/// Discovery sources as one table per dimension.
pub fn discovery(r: &wayfarer_engine::discovery::DiscoveryReport) -> String {
    let mut out = format!(
        "Discovery: {} customers, {} with a purchase{}\n",
        count(r.customers),
        count(r.buyers),
        if r.has_clv { "" } else { " (no CLV: too few purchases with revenue to predict it)" }
    );
    let days = |d: Option<f64>| d.map_or("–".to_string(), |d| format!("{d:.1}"));
    for t in &r.tables {
        out.push_str(&format!("\nBy first {}\n", t.dimension));
        let mut tab = Table::new();
        tab.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
        tab.set_header(vec![
            "source",
            "customers",
            "buy (95 % CI)",
            "days to buy: median (p25–p75)",
            "12-month CLV of buyers (95 % CI)",
            "value per customer",
        ]);
        for s in &t.sources {
            tab.add_row(vec![
                Cell::new(&s.source),
                Cell::new(format!("{} ({})", count(s.customers), pct(s.share))),
                Cell::new(format!("{} ({}–{})", pct(s.conversion), pct(s.conversion_low), pct(s.conversion_high))),
                Cell::new(format!(
                    "{} ({}–{})",
                    days(s.median_days_to_purchase),
                    days(s.p25_days_to_purchase),
                    days(s.p75_days_to_purchase)
                )),
                Cell::new(match (s.mean_clv, s.clv_low, s.clv_high) {
                    (Some(m), Some(l), Some(h)) => format!("{} ({}–{})", money(m), money(l), money(h)),
                    (Some(m), _, _) => money(m),
                    _ => "–".into(),
                }),
                Cell::new(s.value_per_customer.map_or("–".into(), money)),
            ]);
        }
        out.push_str(&tab.to_string());
        out.push('\n');
        if t.small_sources > 0 {
            out.push_str(&format!(
                "{} smaller sources ({} customers) left out (--min-customers)\n",
                count(t.small_sources),
                count(t.small_customers)
            ));
        }
    }
    out
}

/// Loyalty actions: reach by persona, and the journeys before them.
pub fn loyalty(r: &wayfarer_engine::loyalty::LoyaltyReport) -> String {
    let mut out = format!("Loyalty actions over {} customers\n", count(r.customers));
    let mut tab = Table::new();
    tab.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    let mut head = vec!["action".to_string(), "all customers".to_string()];
    let shown: Vec<&String> =
        r.personas.iter().filter(|p| r.actions.iter().any(|a| a.by_persona.iter().any(|s| &s.persona == *p))).collect();
    head.extend(shown.iter().map(|p| (*p).clone()));
    tab.set_header(head);
    for a in &r.actions {
        let mut row =
            vec![format!("{}\n{}", a.name, a.condition), format!("{} ({})", pct(a.share), count(a.customers))];
        for p in &shown {
            row.push(a.by_persona.iter().find(|s| &s.persona == *p).map_or("–".into(), |s| pct(s.share)));
        }
        tab.add_row(row);
    }
    out.push_str(&tab.to_string());
    out.push('\n');
    for a in &r.actions {
        out.push_str(&format!(
            "\nBefore the first {} (share of those who did · of those who never did · lift)\n",
            a.name
        ));
        for j in &a.journeys {
            out.push_str(&format!(
                "  {:>6} · {:>6} · {:>5}  {}\n",
                pct(j.reached_share),
                pct(j.others_share),
                j.lift.map_or("–".into(), |l| format!("{l:.1}×")),
                j.path.join(" → ")
            ));
        }
    }
    if !r.absent.is_empty() {
        out.push_str(&format!("\nNot in the data (left out): {}\n", r.absent.join(", ")));
    }
    out
}
