//! The journey map as a terminal table: stages as columns, one row per lane,
//! then the top pain points and opportunities with their evidence.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use wayfarer_engine::journey::JourneyMap;
use wayfarer_engine::sessions::SessionsReport;

use crate::{count, duration, emotion, money, opt_pct, pct};

/// Renders the map for a terminal of `width` columns.
pub fn journey_table(map: &JourneyMap, width: u16) -> String {
    let mut out = String::new();
    let scope = &map.scope;
    let who = scope.persona.as_deref().unwrap_or("All customers");
    let mut header = format!(
        "Journey map — {who}: {} customers, {} events, revenue {}",
        count(scope.customers),
        count(scope.events),
        money(scope.revenue)
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
    table.add_row(row("Favourite channel", &|s| {
        s.channels.first().map_or("–".into(), |c| format!("{}\n{}", c.channel, pct(c.share)))
    }));
    table.add_row(row("Emotion (n)", &|s| {
        let mut v = format!("{} ({})", emotion(s.emotion.score), count(s.emotion.n));
        if let Some(n) = &s.emotion.nps {
            v.push_str(&format!("\nNPS {:+.0}", n.score));
        }
        v
    }));
    table.add_row(row("Top pain point", &|s| s.pain_points.first().map_or("–".into(), |p| p.title.clone())));
    out.push_str(&table.to_string());
    out.push('\n');

    if !map.pain_points.is_empty() {
        out.push_str("\nPain points (most severe first)\n");
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
        out.push_str("\nOpportunities\n");
        for (i, o) in map.opportunities.iter().take(5).enumerate() {
            let impact = match (o.expected_conversions, o.expected_revenue) {
                (Some(c), Some(r)) => format!("≈{c:.0} more customers moving on, ≈{}", money(r)),
                (Some(c), None) => format!("≈{c:.0} customers"),
                _ => "impact not estimated".to_string(),
            };
            out.push_str(&format!(
                "{:>2}. {}\n    {} — concerns {} customers; {impact}\n",
                i + 1,
                o.title,
                o.action,
                count(o.customers)
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
