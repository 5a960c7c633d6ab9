//! The self-contained HTML journey map: one file, inline CSS and SVG, no
//! scripts from anywhere, opens offline. Stages are columns; lanes are rows
//! (customers and conversion, time, touchpoints, actions, channels, the
//! emotion curve, pain points, opportunities, verbatims). Several maps (all
//! customers, then each persona) become tabs that work without JavaScript.

use std::fmt::Write as _;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use wayfarer_engine::journey::pain::{Opportunity, PainPoint};
use wayfarer_engine::journey::{JourneyMap, StageReport};

use crate::{count, duration, emotion, money, opt_pct, pct};

const CSS: &str = concat!(include_str!("map.css"), include_str!("report.css"));

/// Palette for channels (stable by position in the stage's list): Okabe–Ito.
use crate::chart::{PALETTE, esc};

/// Renders the report; `maps[0]` is the main map, others are tabs.
pub fn report(maps: &[JourneyMap], title: &str) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (crate::head(title, crate::Style::Inline(CSS)))
            body {
                header.top {
                    div {
                        h1 { (title) }
                        @if let Some(m) = maps.first() {
                            p.sub {
                                (m.scope.from.as_deref().unwrap_or(&m.scope.data_start).get(..10).unwrap_or(""))
                                " – "
                                (m.scope.to.as_deref().unwrap_or(&m.scope.data_end).get(..10).unwrap_or(""))
                                " · " (count(m.scope.customers)) " customers · " (count(m.scope.events)) " events · " (if m.scope.has_revenue { format!("revenue {}", money(m.scope.revenue)) } else { "no revenue in the data".to_string() })
                            }
                        }
                    }
                    div.brand { "Wayfarer" }
                }
                main {
                    @if maps.len() > 1 {
                        div.tabs {
                            @for (i, m) in maps.iter().enumerate() {
                                input type="radio" name="tab" id=(format!("tab{i}")) checked[i == 0];
                                label for=(format!("tab{i}")) { (m.scope.persona.as_deref().unwrap_or("All customers")) " " span.n { (count(m.scope.customers)) } }
                            }
                            @for (i, m) in maps.iter().enumerate() {
                                section.panel id=(format!("panel{i}")) { (map_section(m, None)) }
                            }
                        }
                    } @else if let Some(m) = maps.first() {
                        section.panel.single { (map_section(m, None)) }
                    }
                }
                footer {
                    p {
                        "Built from evidence by Wayfarer. Conversion k→k+1 = customers who reached stage k+1 or later / customers who reached stage k; skipped stages count as reached. "
                        "Emotion = mean of VADER sentiment of customers' texts and survey answers mapped to −1..1 (NPS (s−5)/5, CSAT (s−3)/2, CES (s−4)/3). "
                        "Touchpoint lift = conversion of the stage's customers who met it / of those who did not. Exit rate = share of customers whose last step in the stage it was and who went no further. "
                        "Pain points are significant at the configured level and ranked by severity = customers affected × gap."
                    }
                }
            }
        }
    };
    page.into_string()
}

/// What makes the map interactive on the dashboard: every cell links to its
/// detail panel, shows how many notes it has, and the open one is marked.
pub struct Interactive<'a> {
    /// The link of a cell, from (stage, lane key).
    pub href: &'a dyn Fn(&str, &str) -> String,
    /// How many notes a cell has.
    pub notes: &'a dyn Fn(&str, &str) -> usize,
    pub selected: Option<(&'a str, &'a str)>,
}

/// The lanes of the map: (key used in links and notes, label).
pub const LANES: [(&str, &str); 11] = [
    ("customers", "Customers"),
    ("conversion", "Conversion"),
    ("value", "Value"),
    ("time", "Time to next"),
    ("touchpoints", "Touchpoints"),
    ("discovery", "Discovery"),
    ("actions", "Actions"),
    ("channels", "Channels"),
    ("pain", "Pain points"),
    ("opportunities", "Opportunities"),
    ("verbatims", "Verbatims"),
];

/// The map grid, KPIs and tables of one map (the dashboard's home page
/// draws the same section with `ui`).
pub fn map_section(m: &JourneyMap, ui: Option<&Interactive>) -> Markup {
    let k = m.stages.len().max(1);
    let grid = format!("grid-template-columns: 8rem repeat({k}, minmax(8.5rem, 1fr));");
    html! {
        @if let Some(p) = &m.scope.persona {
            h2.persona { (p) }
        }
        div.kpis {
            (kpi("Customers", &count(m.scope.customers)))
            @if let Some(first) = m.stages.first() {
                @if let Some(last_purchase) = m.stages.iter().find(|s| s.revenue > 0.0) {
                    (kpi(&format!("Reached {}", last_purchase.name), &format!("{} ({})", count(last_purchase.customers), pct(last_purchase.customers as f64 / first.customers.max(1) as f64))))
                }
            }
            (kpi("Revenue", &if m.scope.has_revenue { money(m.scope.revenue) } else { "no revenue data".to_string() }))
            (kpi("Pain points", &m.pain_points.len().to_string()))
            @if let Some(p) = m.pain_points.first() {
                div.kpi.wide { div.label { "Most severe" } div.value.small { (p.title) } }
            }
        }
        div.map style=(grid) {
            div.corner {}
            @for (i, s) in m.stages.iter().enumerate() {
                div.stage style=(format!("--hue:{}", 210 - (i * 150 / k.max(1)) as i32)) {
                    div.stage-name { (s.name) }
                    div.stage-desc { (s.description) }
                }
            }
            (lane("Customers", "customers", m, ui, |s| html! {
                div.big { (count(s.customers)) }
                div.bar { div.fill style=(format!("width:{:.1}%", s.share * 100.0)) {} }
                div.muted { (pct(s.share)) " of customers" }
                @if s.current_active + s.current_churned > 0 {
                    div.muted { "here now: " (count(s.current_active)) " active, " (count(s.current_churned)) " churned" }
                }
            }))
            (lane("Conversion", "conversion", m, ui, |s| html! {
                @if let Some(c) = s.conversion_to_next {
                    div.arrow { "→ " (pct(c)) }
                    div.muted { (count(s.dropped)) " dropped (" (opt_pct(s.drop_off)) ")" }
                } @else {
                    div.muted { "last stage" }
                }
            }))
            (lane("Value", "value", m, ui, |s| html! {
                @if s.value.customers > 0 {
                    @if let Some(c) = s.value.mean_predicted_clv {
                        div.mid { (money(c)) }
                        div.muted { "mean predicted CLV, next year (" (count(s.value.predicted_customers)) " buyers)" }
                    }
                    @match s.value.mean_revenue {
                        Some(r) => div.muted { (money(r)) " to date, mean of " (count(s.value.customers)) " who stopped here" },
                        None => div.muted { (count(s.value.customers)) " stopped here" @if !m.scope.has_revenue { "; no revenue in the data" } },
                    }
                } @else { div.muted { "–" } }
            }))
            (lane("Time to next", "time", m, ui, |s| html! {
                @if s.median_time_to_next_seconds.is_some() {
                    div.mid { (duration(s.median_time_to_next_seconds)) }
                    div.muted { "median · p90 " (duration(s.p90_time_to_next_seconds)) }
                } @else { div.muted { "–" } }
            }))
            (lane("Touchpoints", "touchpoints", m, ui, |s| html! {
                ul.tps {
                    @for t in s.touchpoints.iter().take(5) {
                        li title=(format!("{} customers, {} events; converted {} with vs {} without; exit rate {}", t.customers, t.events, opt_pct(t.conversion_with), opt_pct(t.conversion_without), pct(t.exit_rate))) {
                            span.tp-name { (t.name) }
                            span.tp-reach { (pct(t.reach)) }
                            @if let Some(l) = t.lift {
                                span class=(if l >= 1.1 { "lift up" } else if l <= 0.9 { "lift down" } else { "lift" }) { "×" (format!("{l:.2}")) }
                            }
                            @if t.exit_rate >= 0.25 && t.customers >= 30 {
                                span.exit { (pct(t.exit_rate)) " exit" }
                            }
                        }
                    }
                }
            }))
            @if !m.discovery.is_empty() {
                (lane("Discovery", "discovery", m, ui, |s| html! {
                    @if s.index == 0 {
                        div.muted { "first touch · share · then bought" }
                        ul.tps {
                            @for d in m.discovery.iter().take(5) {
                                li title=(format!("{} customers came in at {}; {} of them bought", d.customers, d.touchpoint, d.buyers)) {
                                    span.tp-name { (d.touchpoint) }
                                    span.tp-reach { (pct(d.share)) }
                                    span.lift { (pct(d.conversion)) " buy" }
                                }
                            }
                        }
                    } @else { div.muted { "–" } }
                }))
            }
            (lane("Actions", "actions", m, ui, |s| html! {
                ul.plain {
                    @for a in s.actions.iter().take(4) {
                        li { (a.event) " " span.muted { (count(a.customers)) } }
                    }
                }
            }))
            (lane("Channels", "channels", m, ui, |s| html! {
                (channel_bar(s))
                @if let Some(f) = &s.favourite_channel {
                    div.muted { "favourite: " strong { (f) } }
                }
                @if let Some(a) = s.actionable_channel.as_ref().filter(|a| s.favourite_channel.as_ref() != Some(*a)) {
                    div.muted { "reach them by: " strong { (a) } }
                }
                @if let Some(d) = &s.distinctive_channel {
                    div.muted { "stands out: " strong { (d) } (s.channels.iter().find(|c| &c.channel == d).and_then(|c| c.lift).map_or(String::new(), |l| format!(" ×{l:.1}"))) }
                }
            }))
            div.lane-label { "Emotion" }
            @if m.scope.has_emotion {
                div.emotion style=(format!("grid-column: 2 / span {k}")) { (PreEscaped(emotion_svg(m))) }
            } @else {
                div.emotion.muted style=(format!("grid-column: 2 / span {k}")) { "No survey scores or texts in the data: the emotion curve needs NPS, CSAT or CES answers, or comments whose sentiment can be read." }
            }
            (lane("Pain points", "pain", m, ui, |s| html! {
                @for p in s.pain_points.iter().take(3) { (pain_card(p)) }
                @if s.pain_points.is_empty() { div.muted { "none significant" } }
            }))
            (lane("Opportunities", "opportunities", m, ui, |s| html! {
                @for o in s.opportunities.iter().take(2) { (opportunity_card(o)) }
            }))
            (lane("Verbatims", "verbatims", m, ui, |s| html! {
                @for v in s.verbatims.iter().take(3) {
                    blockquote class=(format!("verbatim {}", v.tone)) title=(format!("{} · {} · sentiment {:+.2}", v.customer, v.touchpoint, v.sentiment)) { "“" (v.text) "”" }
                }
            }))
        }
        h3 { "Pain points, most severe first" (crate::shown(15.min(m.pain_points.len()), m.pain_points.len())) }
        table.list {
            thead { tr { th { "#" } th { "Pain point" } th { "Kind" } th { "Evidence" } th.num { "Value" } th.num { "Baseline" } th.num { "p" } th.num { "Customers" } th.num { "Severity" } } }
            tbody {
                @for (i, p) in m.pain_points.iter().take(15).enumerate() {
                    tr {
                        td { (i + 1) }
                        td { strong { (p.title) } }
                        td { span.kind { (p.kind.label()) } }
                        td.evidence { (p.evidence) }
                        td.num { (value(&p.metric, p.value)) }
                        td.num { (value(&p.metric, p.baseline)) div.muted { (p.baseline_label) } }
                        td.num { (p.p_value.map_or("–".to_string(), crate::text::fmt_p)) }
                        td.num { (count(p.affected_customers)) }
                        td.num { (format!("{:.0}", p.severity)) }
                    }
                }
            }
        }
        h3 { "Opportunities" (crate::shown(12.min(m.opportunities.len()), m.opportunities.len())) }
        p.muted { "Each is estimated on its own; the groups overlap (a customer can be in several), so the estimates do not add up." }
        table.list {
            thead { tr { th { "Opportunity" } th { "What to do" } th { "Who" } th.num { "Customers" } th.num { "Expected" } th { "Assumption" } } }
            tbody {
                @for o in m.opportunities.iter().take(12) {
                    tr {
                        td { strong { (o.title) } }
                        td { (o.action) }
                        td { (o.segment) }
                        td.num { (count(o.customers)) }
                        td.num {
                            @if let Some(c) = o.expected_conversions { (format!("≈{c:.0}")) }
                            @if let Some(r) = o.expected_revenue { div.muted { (money(r)) } }
                        }
                        td.muted { (o.assumption) }
                    }
                }
            }
        }
        @if !m.personas.is_empty() {
            h3 { "Personas" }
            table.list {
                thead { tr { th { "Persona" } th.num { "Customers" } th.num { "Share" } th { "Favourite channel" } th.num { "Revenue" } th.num { "Predicted CLV" } th.num { "NPS" }
                    @for s in &m.stages { th.num { (s.name) } } } }
                tbody {
                    @for p in &m.personas {
                        tr {
                            td { strong { (p.name) } @if !p.description.is_empty() { div.muted { (p.description) } } }
                            td.num { (count(p.customers)) }
                            td.num { (pct(p.share)) }
                            td { (p.favourite_channel.as_deref().unwrap_or("–")) }
                            td.num { (money(p.revenue)) div.muted { (money(p.mean_revenue)) " each" } }
                            td.num { (p.mean_predicted_clv.map_or("–".into(), money)) }
                            td.num { (p.nps.map_or("–".into(), |n| format!("{n:+.0}"))) @if p.nps_responses > 0 { div.muted { "n=" (count(p.nps_responses)) } } }
                            @for r in &p.reached { td.num { (count(*r)) } }
                        }
                    }
                }
            }
        }
    }
}

fn value(metric: &str, v: f64) -> String {
    if metric.contains("seconds") {
        duration(Some(v))
    } else if metric.contains("emotion") {
        emotion(Some(v))
    } else {
        pct(v)
    }
}

fn kpi(label: &str, value: &str) -> Markup {
    html! { div.kpi { div.label { (label) } div.value { (value) } } }
}

fn lane(
    label: &str,
    key: &str,
    m: &JourneyMap,
    ui: Option<&Interactive>,
    cell: impl Fn(&StageReport) -> Markup,
) -> Markup {
    html! {
        div.lane-label { (label) }
        @for s in &m.stages {
            @if let Some(ui) = ui {
                @let notes = (ui.notes)(&s.name, key);
                @let open = ui.selected == Some((s.name.as_str(), key));
                a.cell.live.open[open] href=((ui.href)(&s.name, key)) aria-current=[open.then_some("true")] {
                    (cell(s))
                    span.sr-only { (format!(" — {label} at {}: open the numbers, links and notes", s.name)) }
                    @if notes > 0 { span.note-badge title=(format!("{notes} note(s)")) { "✎ " (notes) } }
                }
            } @else {
                div.cell { (cell(s)) }
            }
        }
    }
}

fn channel_bar(s: &StageReport) -> Markup {
    let total: u64 = s.channels.iter().map(|c| c.events).sum();
    html! {
        div.stack title="share of the stage's events by channel" {
            @for (i, c) in s.channels.iter().take(8).enumerate() {
                @let w = if total > 0 { c.events as f64 * 100.0 / total as f64 } else { 0.0 };
                @if w >= 0.5 {
                    div style=(format!("width:{w:.1}%;background:{}", PALETTE[i % PALETTE.len()])) title=(format!("{}: {:.1}% of events, {} customers", c.channel, w, c.customers)) {}
                }
            }
        }
        ul.legend {
            @for (i, c) in s.channels.iter().take(4).enumerate() {
                li { span.swatch style=(format!("background:{}", PALETTE[i % PALETTE.len()])) {} (c.channel) " " span.muted { (pct(c.share)) } }
            }
        }
    }
}

fn pain_card(p: &PainPoint) -> Markup {
    html! {
        div.card.pain title=(p.evidence) {
            div.card-kind { (p.kind.label()) @if let Some(per) = &p.persona { " · " (per) } }
            div.card-title { (p.title) }
            div.card-num { (value(&p.metric, p.value)) " vs " (value(&p.metric, p.baseline)) " · n=" (count(p.n)) }
            @if !p.terms.is_empty() { div.terms { @for t in &p.terms { span.term { (t) } } } }
        }
    }
}

fn opportunity_card(o: &Opportunity) -> Markup {
    html! {
        div.card.opp title=(o.assumption) {
            div.card-title { (o.title) }
            div.card-num {
                (count(o.customers)) " customers"
                @if let Some(c) = o.expected_conversions { " · ≈" (format!("{c:.0}")) " more" }
            }
        }
    }
}

fn emotion_color(v: f64) -> String {
    // Vermillion (-1) .. grey (0) .. blue (+1): Okabe–Ito ends, told apart
    // with every common colour-vision deficiency (red/green is not).
    let v = v.clamp(-1.0, 1.0);
    let grey = (150.0, 150.0, 150.0);
    let (end, t) = if v < 0.0 { ((213.0, 94.0, 0.0), -v) } else { ((0.0, 114.0, 178.0), v) };
    let mix = |a: f64, b: f64| a + (b - a) * t;
    let (r, g, b) = (mix(grey.0, end.0), mix(grey.1, end.1), mix(grey.2, end.2));
    format!("rgb({:.0},{:.0},{:.0})", r, g, b)
}

/// The emotion curve across the stages, as inline SVG.
pub fn emotion_svg(m: &JourneyMap) -> String {
    let k = m.emotion_curve.len().max(1);
    let (w, h) = (k as f64 * 200.0, 150.0);
    let y = |v: f64| 75.0 - v.clamp(-1.0, 1.0) * 60.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="Emotion curve across stages" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = write!(
        s,
        r##"<rect x="0" y="15" width="{w}" height="60" fill="#eef5fb"/><rect x="0" y="75" width="{w}" height="60" fill="#fdf1e8"/>"##
    );
    let _ = write!(s, r##"<line x1="0" y1="75" x2="{w}" y2="75" stroke="#bbb" stroke-dasharray="4 4"/>"##);
    let _ = write!(
        s,
        r##"<text x="6" y="28" font-size="11" fill="#0b5e91">positive</text><text x="6" y="130" font-size="11" fill="#a3470a">negative</text>"##
    );
    let pts: Vec<(f64, f64, &wayfarer_engine::journey::EmotionPoint)> = m
        .emotion_curve
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.score.map(|v| (i as f64 * 200.0 + 100.0, v, p)))
        .collect();
    if pts.len() >= 2 {
        let mut d = String::new();
        for (i, (x, v, _)) in pts.iter().enumerate() {
            let _ = write!(d, "{}{x:.1},{:.1}", if i == 0 { "M" } else { " L" }, y(*v));
        }
        let _ = write!(s, r##"<path d="{d}" fill="none" stroke="#445" stroke-width="2.5"/>"##);
    }
    for (x, v, p) in &pts {
        let _ = write!(
            s,
            r##"<circle cx="{x:.1}" cy="{:.1}" r="9" fill="{}" stroke="#fff" stroke-width="2"><title>{}: {:+.2} (n={})</title></circle>"##,
            y(*v),
            emotion_color(*v),
            esc(&p.stage),
            v,
            p.n
        );
        let ty = if *v >= 0.0 { y(*v) - 15.0 } else { y(*v) + 24.0 };
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{ty:.1}" font-size="14" font-weight="600" text-anchor="middle" fill="#333">{:+.2}</text>"##,
            v
        );
        let _ =
            write!(s, r##"<text x="{x:.1}" y="147" font-size="10" text-anchor="middle" fill="#888">n={}</text>"##, p.n);
    }
    for (i, p) in m.emotion_curve.iter().enumerate() {
        if p.score.is_none() {
            let x = i as f64 * 200.0 + 100.0;
            let _ = write!(
                s,
                r##"<text x="{x:.1}" y="80" font-size="11" text-anchor="middle" fill="#999">no data</text>"##
            );
        }
    }
    s.push_str("</svg>");
    s
}
