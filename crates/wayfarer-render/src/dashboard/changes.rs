//! The "What changed" page: two maps compared (snapshots, periods, or
//! before and after an annotation) on one page — per persona a table of
//! stages × measures where only significant changes are coloured, the pain
//! points that appeared, resolved, worsened or improved — with the saved
//! snapshots and the annotations (and a form to add one).

use maud::{Markup, html};
use wayfarer_engine::journey::compare::{Change, MapComparison, PainStatus};
use wayfarer_engine::journey::snapshot::SnapshotInfo;
use wayfarer_store::annotations::Annotation;

use super::{Chrome, enc, layout};

/// The form's values.
#[derive(Debug, Default)]
pub struct ChangesForm {
    pub compare: String,
    pub vs: String,
    pub around: String,
    pub days: String,
    pub horizon: String,
}

#[derive(Debug)]
pub struct ChangesPage<'a> {
    pub chrome: Chrome,
    pub snapshots: &'a [SnapshotInfo],
    pub annotations: &'a [Annotation],
    pub form: ChangesForm,
    /// The comparison asked for, or why it could not be made.
    pub result: Option<Result<MapComparison, String>>,
}

fn day(s: &str) -> &str {
    wayfarer_core::time::prefix(s, 10)
}

/// One measure's cell: "a → b", coloured only when significant.
fn cell(c: Option<&Change>, fmt: &dyn Fn(f64) -> String) -> Markup {
    let Some(c) = c else { return html! { td.muted { "–" } } };
    let f = |v: Option<f64>| v.map_or_else(|| "–".to_string(), fmt);
    let class = match (c.significant, c.better) {
        (true, Some(true)) => "better",
        (true, Some(false)) => "worse",
        _ => "same",
    };
    let mut title = format!("n = {} → {}", c.n_a, c.n_b);
    if let (Some(l), Some(h)) = (c.low, c.high) {
        title.push_str(&format!("; difference 95 % CI {} to {}", fmt(l), fmt(h)));
    }
    if let Some(p) = c.p_value {
        title.push_str(&format!("; p = {p:.4}"));
    }
    if let Some(q) = c.q_value {
        title.push_str(&format!("; q = {q:.4}"));
    }
    html! {
        td class=(class) title=(title) {
            (f(c.a)) " → " (f(c.b))
            @match class { "better" => span.mark { " ▲" }, "worse" => span.mark { " ▼" }, _ => {} }
        }
    }
}

fn signed(digits: usize) -> impl Fn(f64) -> String {
    move |v| format!("{v:+.digits$}")
}

/// The comparison's markup (the page's and the standalone report's).
pub fn comparison(c: &MapComparison) -> Markup {
    let side = |s: &wayfarer_engine::journey::compare::Side| {
        let range = match (&s.from, &s.to) {
            (Some(f), Some(t)) if !s.label.contains("..") => format!(" ({}..{})", day(f), day(t)),
            _ => String::new(),
        };
        format!("{}{range}", s.label)
    };
    let changed: Vec<_> =
        c.pain_points.iter().filter(|p| !matches!(p.status, PainStatus::Unchanged | PainStatus::OneSide)).collect();
    let one_side = c.pain_points.iter().filter(|p| p.status == PainStatus::OneSide).count();
    html! {
        section.card #comparison {
            header {
                h2 { (side(&c.a)) " → " (side(&c.b)) }
                div.muted {
                    (crate::count(c.tests as u64)) " tests; " strong { (crate::count(c.significant as u64)) " significant" }
                    " at a " (format!("{:.0}", c.fdr * 100.0)) " % false-discovery rate (Benjamini–Hochberg). Only those are coloured: "
                    span.better { "▲ better" } ", " span.worse { "▼ worse" } ". Hover a cell for its test."
                }
                @if let Some(h) = c.horizon_seconds {
                    div.muted {
                        "Periods are compared on cohorts: reach of the customers first seen in each period; conversion, time, emotion and NPS of those who entered the stage in it, followed for "
                        (crate::duration(Some(h))) " (whole histories)."
                    }
                }
                @for w in &c.warnings { div.notice role="note" { (w) } }
            }
            @for g in &c.groups {
                h3 { (g.persona.as_deref().unwrap_or("All customers")) " "
                     span.muted { "(" (crate::count(g.a_customers)) " → " (crate::count(g.b_customers)) ")" } }
                table.data.changes {
                    thead { tr { th { "Stage" } th { "Reach" } th { "Conversion to next" } th { "Median time to next" } th { "Emotion" } th { "NPS" } } }
                    tbody {
                        @for s in &g.stages {
                            tr {
                                th scope="row" { (s.stage) }
                                (cell(Some(&s.reach), &crate::pct))
                                (cell(s.conversion.as_ref(), &crate::pct))
                                (cell(s.time_to_next.as_ref(), &|v| crate::duration(Some(v))))
                                (cell(s.emotion.as_ref(), &signed(2)))
                                (cell(s.nps.as_ref(), &signed(0)))
                            }
                        }
                    }
                }
            }
            @if !c.unmatched_personas.is_empty() {
                p.muted { "Personas on one side only (not compared): " (c.unmatched_personas.join(", ")) }
            }
            h3 { "Pain points" }
            p.muted { (changed.len()) " changed significantly; " (one_side) " found on one side only without a significant change of their measure (they only crossed the map's detection threshold)." }
            @if !changed.is_empty() {
                table.data #pain-changes {
                    thead { tr { th { "Status" } th { "Pain point" } th { "Measure" } th.num { "q" } } }
                    tbody {
                        @for p in &changed {
                            @let good = matches!(p.status, PainStatus::Resolved | PainStatus::Improved);
                            tr {
                                td class=(if good { "better" } else { "worse" }) { (p.status.label()) }
                                td { (p.title) }
                                td { (p.metric) ": "
                                     (p.a.as_ref().map_or("–".to_string(), |s| crate::pct(s.value))) " → "
                                     (p.b.as_ref().map_or("–".to_string(), |s| crate::pct(s.value))) }
                                td.num { (p.q_value.map_or("–".to_string(), |q| format!("{q:.4}"))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn changes_page(p: &ChangesPage) -> String {
    layout(
        &p.chrome,
        &html! {
            p.muted style="margin-top:0" {
                "What changed between two journey maps, and whether it was more than noise: two saved snapshots, two periods ("
                code { "2026-07-01..2026-10-01" } "), or the days before and after an annotation. The server saves each month's map by itself ("
                code { "month-YYYY-MM" } "); " code { "wayfarer map snapshot" } " saves one now."
            }
            form.filters method="get" action="/changes" {
                div.field {
                    label for="compare" { "Compare" }
                    input #compare type="text" name="compare" value=(p.form.compare) list="snapshot-names" placeholder="a snapshot or FROM..TO" size="24";
                }
                div.field {
                    label for="vs" { "with" }
                    input #vs type="text" name="vs" value=(p.form.vs) list="snapshot-names" placeholder="a snapshot or FROM..TO" size="24";
                }
                div.field {
                    label for="around" { "or around" }
                    select #around name="around" {
                        option value="" { "no annotation" }
                        @for a in p.annotations {
                            option value=(a.id) selected[p.form.around == a.id.to_string()] { (day(&a.at)) " " (a.text) }
                        }
                    }
                }
                div.field {
                    label for="days" { "Days each side" }
                    input #days type="number" name="days" min="1" max="3660" value=(if p.form.days.is_empty() { "28" } else { &p.form.days }) size="5";
                }
                div.field {
                    label for="horizon" { "Follow each customer for" }
                    input #horizon type="text" name="horizon" value=(if p.form.horizon.is_empty() { "14d" } else { &p.form.horizon }) size="6";
                }
                button type="submit" { "Compare" }
                datalist #snapshot-names { @for s in p.snapshots { option value=(s.name) {} } }
            }
            @match &p.result {
                None => div.empty { strong { "Choose two maps" } "Pick two snapshots or periods, or an annotation, then Compare." },
                Some(Err(e)) => div.notice.error role="alert" { (e) },
                Some(Ok(c)) => (comparison(c)),
            }
            section.card #snapshots {
                header { h2 { "Snapshots" } }
                @if p.snapshots.is_empty() {
                    p.muted { "None yet." }
                } @else {
                    table.data {
                        thead { tr { th { "Name" } th { "Data" } th.num { "Customers" } th.num { "Personas" } th.num { "Pain points" } th { "Configuration" } th {} } }
                        tbody {
                            @for (i, s) in p.snapshots.iter().enumerate() {
                                tr {
                                    td { (s.name) }
                                    td { (day(s.from.as_deref().unwrap_or(&s.data_start))) ".." (day(s.to.as_deref().unwrap_or(&s.data_end))) }
                                    td.num { (crate::count(s.customers)) }
                                    td.num { (s.personas.len()) }
                                    td.num { (s.pain_points) }
                                    td { code { (wayfarer_core::time::prefix(&s.config_hash, 12)) } }
                                    td { @if i > 0 {
                                        a href=(format!("/changes?compare={}&vs={}", enc(&p.snapshots[i - 1].name), enc(&s.name))) { "compare with the previous" }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
            section.card #annotations {
                header { h2 { "Annotations" } }
                @if p.annotations.is_empty() { p.muted { "None yet." } }
                ul {
                    @for a in p.annotations {
                        li { (day(&a.at)) " — " (a.text) " · "
                             a href=(format!("/changes?around={}", a.id)) { "before and after" } }
                    }
                }
                form.filters method="post" action="/annotations" {
                    input type="hidden" name="back" value="/changes";
                    div.field { label for="ann-date" { "Date" } input #ann-date type="date" name="date" required; }
                    div.field { label for="ann-text" { "What happened" } input #ann-text type="text" name="text" required maxlength="200" size="40"; }
                    button type="submit" { "Add annotation" }
                }
            }
        },
    )
}

/// The comparison as a self-contained HTML report (`wayfarer map --compare
/// … --format html`): the dashboard's styles inline, no navigation.
pub fn comparison_report(c: &MapComparison) -> String {
    let title = format!("What changed: {} → {}", c.a.label, c.b.label);
    html! {
        (maud::DOCTYPE)
        html lang="en" {
            (crate::head(&title, crate::Style::Inline(super::CSS)))
            body style="padding:16px 24px;max-width:1200px;margin:auto" {
                h1 { "What changed" }
                (comparison(c))
            }
        }
    }
    .into_string()
}
