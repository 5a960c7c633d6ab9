//! The Opportunities page: the map's opportunities by score (value ÷ the
//! team's effort) with a form to set each one's effort and owner, a value ×
//! effort matrix of those planned, and the KPI targets on map cells, met or
//! missed, with a form to add one.

use maud::{Markup, PreEscaped, html};
use wayfarer_engine::journey::pain::Opportunity;
use wayfarer_engine::journey::plans::{TargetStatus, describe};

use super::{Chrome, layout};

#[derive(Debug)]
pub struct OpportunitiesPage<'a> {
    pub chrome: Chrome,
    pub opportunities: &'a [Opportunity],
    pub targets: &'a [TargetStatus],
    pub stages: &'a [String],
    pub personas: &'a [String],
}

fn value(o: &Opportunity) -> f64 {
    o.business_value.unwrap_or(o.customer_value)
}

fn value_text(o: &Opportunity) -> String {
    match o.business_value {
        Some(v) => crate::money(v),
        None => format!("{} customers", crate::count(o.customer_value.round() as u64)),
    }
}

/// Value (log scale) against effort, one numbered dot per planned opportunity.
fn matrix(opps: &[(usize, &Opportunity)]) -> Markup {
    let (w, h, left, bottom, top) = (640.0f64, 300.0f64, 70.0f64, 40.0f64, 16.0f64);
    let values: Vec<f64> = opps.iter().map(|(_, o)| value(o).max(1.0)).collect();
    let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v.log10()), b.max(v.log10())));
    let (lo, hi) = if hi - lo < 1e-9 { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let x = |e: f64| left + (w - left - 20.0) * e / 5.0;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - (v.log10() - lo) / (hi - lo));
    let mut svg = format!(
        r##"<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="Value against effort of the planned opportunities" class="matrix">"##
    );
    svg.push_str(&format!(
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="#f8fafc" stroke="#cbd5e1"/>"##,
        w - left - 20.0,
        h - top - bottom
    ));
    // Quick wins: high value, low effort (the top-left quarter).
    svg.push_str(&format!(
        r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="#e6f4ea"/><text x="{}" y="{}" font-size="11" fill="#146c2e">quick wins</text>"##,
        (w - left - 20.0) / 2.0,
        (h - top - bottom) / 2.0,
        left + 6.0,
        top + 14.0
    ));
    for e in 0..=5 {
        let xe = x(f64::from(e));
        svg.push_str(&format!(
            r##"<text x="{xe}" y="{}" font-size="11" text-anchor="middle" fill="#475569">{e}</text>"##,
            h - bottom + 16.0
        ));
    }
    svg.push_str(&format!(
        r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#475569">effort (0 = trivial … 5 = a project)</text>"##,
        left + (w - left) / 2.0,
        h - 6.0
    ));
    svg.push_str(&format!(
        r##"<text x="14" y="{}" font-size="11" fill="#475569" transform="rotate(-90 14 {})" text-anchor="middle">value (log)</text>"##,
        top + (h - top - bottom) / 2.0,
        top + (h - top - bottom) / 2.0
    ));
    for ((i, o), v) in opps.iter().zip(&values) {
        let (cx, cy) = (x(f64::from(o.effort.unwrap_or(0))), y(*v));
        svg.push_str(&format!(
            r##"<g><title>{} — {} · effort {}</title><circle cx="{cx:.1}" cy="{cy:.1}" r="10" fill="#2563eb" opacity="0.85"/><text x="{cx:.1}" y="{:.1}" font-size="10" fill="#fff" text-anchor="middle">{}</text></g>"##,
            maud::html! { (o.title) }.into_string(),
            value_text(o),
            o.effort.unwrap_or(0),
            cy + 3.5,
            i + 1
        ));
    }
    svg.push_str("</svg>");
    html! { (PreEscaped(svg)) }
}

pub fn opportunities_page(p: &OpportunitiesPage) -> String {
    let planned: Vec<(usize, &Opportunity)> =
        p.opportunities.iter().enumerate().filter(|(_, o)| o.effort.is_some()).collect();
    layout(
        &p.chrome,
        &html! {
            p.muted style="margin-top:0" {
                "What to do about the journey, by score: each opportunity's value (revenue at stake where the map can say, else the customers who would convert) ÷ the effort your team sets (0 = trivial … 5 = a project). Set an effort and an owner to score one; KPI targets on map cells say whether a stage meets what you aim for."
            }
            section.card #opportunities {
                header { h2 { (crate::counted(p.opportunities.len() as u64, "opportunity")) } }
                @if p.opportunities.is_empty() { p.muted { "The map found no pain point or positive signal to act on." } }
                table.data {
                    thead { tr { th.num { "#" } th { "Opportunity" } th { "Stage" } th.num { "Value" } th.num { "Score" } th { "Effort and owner" } } }
                    tbody {
                        @for (i, o) in p.opportunities.iter().enumerate() {
                            tr {
                                td.num { (i + 1) }
                                td { strong { (o.title) } div.muted { (o.action) } }
                                td { (o.stage.as_deref().unwrap_or("–")) @if let Some(pe) = &o.persona { div.muted { (pe) } } }
                                td.num { (value_text(o)) }
                                td.num { (o.score.map_or("–".to_string(), |s| format!("{s:.0}"))) }
                                td {
                                    form.inline method="post" action=(format!("/opportunities/{}", super::enc_path(&o.id))) {
                                        input type="hidden" name="back" value="/opportunities";
                                        label.sr-only for=(format!("effort-{i}")) { "Effort of opportunity " (i + 1) }
                                        select id=(format!("effort-{i}")) name="effort" {
                                            option value="" selected[o.effort.is_none()] { "effort?" }
                                            @for e in 0..=5u8 { option value=(e) selected[o.effort == Some(e)] { (e) } }
                                        }
                                        label.sr-only for=(format!("owner-{i}")) { "Owner of opportunity " (i + 1) }
                                        input id=(format!("owner-{i}")) type="text" name="owner" value=(o.owner.as_deref().unwrap_or("")) placeholder="owner" size="12";
                                        button.btn type="submit" aria-label=(format!("Save the effort and owner of opportunity {}", i + 1)) { "Save" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card #matrix {
                header { h2 { "Value × effort" } }
                @if planned.is_empty() {
                    p.muted { "Set an effort on an opportunity to place it here." }
                } @else {
                    (matrix(&planned))
                }
            }
            section.card #targets {
                header { h2 { "KPI targets" } }
                @if p.targets.is_empty() { p.muted { "No targets yet." } }
                table.data {
                    thead { tr { th { "Target" } th { "Owner" } th.num { "Now" } th { "Status" } th {} } }
                    tbody {
                        @for t in p.targets {
                            tr {
                                td { (describe(&t.target)) }
                                td { (t.target.owner) }
                                td.num { (match (t.actual, t.target.metric.as_str()) {
                                    (Some(a), "conversion" | "reach") => crate::pct(a),
                                    (Some(a), "time_to_next") => crate::duration(Some(a)),
                                    (Some(a), _) => format!("{a:+.2}"),
                                    (None, _) => "–".into(),
                                }) }
                                td class=(match t.met { Some(true) => "better", Some(false) => "worse", None => "same" }) {
                                    (match t.met { Some(true) => "met", Some(false) => "missed", None => "not measurable" })
                                }
                                td {
                                    form.inline method="post" action=(format!("/targets/{}", t.target.id)) {
                                        input type="hidden" name="back" value="/opportunities";
                                        button.btn type="submit" aria-label=(format!("Delete target {}", t.target.id)) { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
                form.filters method="post" action="/targets" aria-label="Add a KPI target" {
                    input type="hidden" name="back" value="/opportunities";
                    div.field { label for="t-stage" { "Stage" } select #t-stage name="stage" { @for s in p.stages { option value=(s) { (s) } } } }
                    div.field { label for="t-persona" { "Persona" } select #t-persona name="persona" {
                        option value="" { "All customers" }
                        @for n in p.personas { option value=(n) { (n) } }
                    } }
                    div.field { label for="t-metric" { "Metric" } select #t-metric name="metric" {
                        @for m in wayfarer_store::notes::TARGET_METRICS { option value=(m) { (m.replace('_', " ")) } }
                    } }
                    div.field { label for="t-op" { "At" } select #t-op name="op" { option value=">=" { "least (≥)" } option value="<=" { "most (≤)" } } }
                    div.field { label for="t-value" { "Value" } input #t-value type="text" name="value" required placeholder="65 %, 2d, 30" size="8"; }
                    div.field { label for="t-owner" { "Owner" } input #t-owner type="text" name="owner" placeholder="team" size="14"; }
                    button type="submit" { "Add target" }
                }
            }
        },
    )
}
