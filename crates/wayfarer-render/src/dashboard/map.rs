//! The home page: the journey map for a persona and date range, each cell
//! a link to its detail panel — the numbers behind it, links to the
//! analysis that produced it, and the analysts' notes on it.

use maud::{Markup, html};
use wayfarer_core::Config;
use wayfarer_engine::journey::{JourneyMap, StageReport};
use wayfarer_store::notes::{Note, NoteStatus};

use super::{Chrome, layout, query};
use crate::html::{Interactive, LANES, map_section};
use crate::{count, duration, money, opt_pct, pct};

#[derive(Debug)]
pub struct MapPage<'a> {
    pub chrome: Chrome,
    pub map: &'a JourneyMap,
    /// Personas to switch between (names).
    pub personas: Vec<String>,
    /// Segments to switch between: (segmentation label, [(value, group name)]).
    pub segments: Vec<(String, Vec<(String, String)>)>,
    /// The request's persona, segment (`first_channel:Email`), from, to.
    pub persona: Option<String>,
    pub segment: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub notes: &'a [Note],
    /// The KPI targets of this map (persona), met or missed.
    pub targets: &'a [wayfarer_engine::journey::plans::TargetStatus],
    /// The open cell: (stage, lane key).
    pub selected: Option<(String, String)>,
    pub config: &'a Config,
}

impl MapPage<'_> {
    /// The Segments page's form filled with a condition that holds exactly
    /// this map's customers of a cell: only for a map of all the data, of
    /// everyone or of a configured persona (dates, discovered personas and
    /// built-in splits have no condition yet).
    fn save_as_segment(&self, name: &str, condition: &str) -> Option<String> {
        if self.from.is_some() || self.to.is_some() || self.segment.is_some() {
            return None;
        }
        let (name, condition) = match &self.persona {
            None => (name.to_string(), condition.to_string()),
            Some(persona) if self.config.personas.iter().any(|c| &c.name == persona) => {
                (format!("{name} - {persona}"), format!("{condition} and persona = '{}'", persona.replace('\'', "\\'")))
            }
            Some(_) => return None,
        };
        let name = wayfarer_store::segment_defs::suggest_name(&name);
        Some(format!("/segments?name={}&condition={}#new-segment", super::enc(&name), super::enc(&condition)))
    }

    fn scope_params(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        for (k, v) in [("persona", &self.persona), ("segment", &self.segment), ("from", &self.from), ("to", &self.to)] {
            if let Some(v) = v {
                p.push((k.to_string(), v.clone()));
            }
        }
        p
    }
    fn here(&self) -> String {
        let q = query(&self.scope_params());
        if q.is_empty() { "/".into() } else { format!("/?{q}") }
    }
    fn cell_href(&self, stage: &str, lane: &str) -> String {
        let mut p = self.scope_params();
        p.push(("cell".into(), format!("{stage}|{lane}")));
        format!("/?{}#detail", query(&p))
    }
    /// Whose map this is, for notes: the persona, or `segment:…`.
    fn group(&self) -> Option<String> {
        self.persona.clone().or_else(|| self.segment.as_ref().map(|s| format!("segment:{s}")))
    }
    fn notes_of(&self, stage: &str, lane: &str) -> impl Iterator<Item = &Note> {
        let group = self.group();
        self.notes.iter().filter(move |n| n.cell.stage == stage && n.cell.lane == lane && n.cell.persona == group)
    }
    /// A link to another page with this page's scope.
    fn link(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let mut p: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        // Analyses take hand-written personas and dates; segments are the map's own.
        p.extend(
            self.scope_params().into_iter().filter(|(k, _)| k != "segment" && (k != "persona" || path != "/paths")),
        );
        format!("{path}?{}", query(&p))
    }
    /// The funnel from one stage to the next, as the map counts it: no
    /// window (the longest a funnel takes).
    fn funnel_link(&self, a: &str, b: &str) -> String {
        self.link(
            "/funnels",
            &[("step", &format!("stage:{a}")), ("step", &format!("stage:{b}")), ("window", NO_WINDOW)],
        )
    }
    /// The funnel whose first step is `what` (a condition on an event)
    /// in stage `k`, and whose second is the next stage: its counts are the
    /// map's for that touchpoint or action (customers, and of them who
    /// moved on).
    fn in_stage_link(&self, step: String, k: usize) -> String {
        let mut params = vec![("step", step)];
        if let Some(next) = self.map.stages.get(k + 1) {
            params.push(("step", format!("stage:{}", next.name)));
        }
        params.push(("window", NO_WINDOW.to_string()));
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.link("/funnels", &borrowed)
    }
    fn touchpoint_link(&self, name: &str, k: usize) -> String {
        let stage = &self.map.stages[k].name;
        self.in_stage_link(format!("*[touchpoint = {} and in_stage = {}]", literal(name), literal(stage)), k)
    }
    fn action_link(&self, event: &str, k: usize) -> String {
        let stage = &self.map.stages[k].name;
        self.in_stage_link(format!("{event}[in_stage = {}]", literal(stage)), k)
    }
    /// Paths from a touchpoint's event, when the touchpoint is exactly its
    /// event (no channel or condition the paths page could not carry).
    fn touchpoint_paths(&self, name: &str) -> Option<String> {
        let event = match self.config.touchpoints.iter().find(|t| t.name == name) {
            Some(t) if t.channel.is_none() && t.when.is_none() && !t.event.contains('*') => t.event.clone(),
            Some(_) => return None,
            // An event that is its own touchpoint (older `event @ channel` names too).
            None => name.split(" @ ").next().unwrap_or(name).to_string(),
        };
        Some(self.link("/paths", &[("from-event", &event)]))
    }
}

/// The funnel window that is no window: the map's stage conversions have none.
const NO_WINDOW: &str = "36500d";

/// A value as the condition language's string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub fn map_page(p: &MapPage) -> String {
    let href = |stage: &str, lane: &str| p.cell_href(stage, lane);
    let notes = |stage: &str, lane: &str| p.notes_of(stage, lane).count();
    let ui = Interactive {
        href: &href,
        notes: &notes,
        selected: p.selected.as_ref().map(|(s, l)| (s.as_str(), l.as_str())),
    };
    let stage =
        p.selected.as_ref().and_then(|(s, l)| p.map.stages.iter().find(|x| &x.name == s).map(|x| (x, l.as_str())));
    let with_detail = stage.is_some();
    layout(
        &p.chrome,
        &html! {
            form.filters method="get" action="/" aria-label="Scope of the map" {
                div.field {
                    label for="persona" { "Persona" }
                    select id="persona" name="persona" {
                        option value="" selected[p.persona.is_none()] { "All customers" }
                        @for name in &p.personas { option value=(name) selected[p.persona.as_deref() == Some(name.as_str())] { (name) } }
                    }
                }
                div.field {
                    label for="segment" { "Segment" }
                    select id="segment" name="segment" aria-describedby="segment-hint" {
                        option value="" selected[p.segment.is_none()] { "All customers" }
                        @for (label, groups) in &p.segments {
                            optgroup label=(label) {
                                @for (value, name) in groups { option value=(value) selected[p.segment.as_deref() == Some(value.as_str())] { (name) } }
                            }
                        }
                    }
                    div.hint id="segment-hint" { "A persona or a segment, not both." }
                }
                div.field { label for="from" { "From" } input type="date" id="from" name="from" value=(p.from.as_deref().unwrap_or("")); }
                div.field { label for="to" { "To (exclusive)" } input type="date" id="to" name="to" value=(p.to.as_deref().unwrap_or("")); }
                div.field { button.btn.primary type="submit" { "Apply" } }
                div.field { a.btn href="/" { "Reset" } }
            }
            @if !p.targets.is_empty() {
                div.targets role="group" aria-label="KPI targets" {
                    span.label { "KPI targets" }
                    @for t in p.targets {
                        @let (class, word) = match t.met { Some(true) => ("better", "met"), Some(false) => ("worse", "missed"), None => ("same", "not measurable") };
                        span class=(format!("target {class}")) title=(format!("owner: {}", if t.target.owner.is_empty() { "–" } else { &t.target.owner })) {
                            (wayfarer_engine::journey::plans::describe(&t.target)) " — " strong { (word) }
                        }
                    }
                    a href="/opportunities#targets" { "manage" }
                }
            }
            @if p.map.scope.customers == 0 {
                div.empty { strong { "No customers in this scope" } "Widen the date range or choose another persona; if the data directory is new, import events or send some to /v1/batch." }
            } @else {
                div.layout-map.with-detail[with_detail] {
                    div style="min-width:0;overflow-x:auto" { (map_section(p.map, Some(&ui))) }
                    @if let Some((s, lane)) = stage { (detail(p, s, lane)) }
                }
            }
        },
    )
}

fn lane_label(key: &str) -> &'static str {
    LANES.iter().find(|(k, _)| *k == key).map_or("Cell", |(_, l)| l)
}

fn detail(p: &MapPage, s: &StageReport, lane: &str) -> Markup {
    let next = p.map.stages.get(s.index + 1);
    let first = p.map.stages.first();
    html! {
        aside.detail.card id="detail" aria-labelledby="detail-title" style="background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px" {
            div style="display:flex;justify-content:space-between;align-items:baseline" {
                h2 id="detail-title" style="margin:0;font-size:16px" { (lane_label(lane)) " " span.where { "· " (s.name) } }
                a href=(p.here()) data-close-detail aria-label="Close the detail panel" { "Close ✕" }
            }
            @match lane {
                "customers" => {
                    dl.facts {
                        dt { "Reached" } dd { (count(s.customers)) " (" (pct(s.share)) " of customers)" }
                        dt { "Here now, active" } dd { (count(s.current_active)) }
                        dt { "Here now, churned" } dd { (count(s.current_churned)) }
                        dt { "Revenue" } dd { (money(s.revenue)) }
                    }
                    @if let Some(f) = first { @if f.name != s.name { p { a href=(p.funnel_link(&f.name, &s.name)) { "Funnel " (f.name) " → " (s.name) } } } }
                    @if let Some(link) = p.save_as_segment(&format!("Reached {}", s.name), &format!("stage >= '{}'", s.name)) {
                        p { a href=(link) { "Save these customers as a segment" } }
                    }
                }
                "conversion" | "time" => {
                    dl.facts {
                        dt { "Conversion to next" } dd { (opt_pct(s.conversion_to_next)) }
                        dt { "Dropped" } dd { (count(s.dropped)) " (" (opt_pct(s.drop_off)) ")" }
                        dt { "Median time to next" } dd { (duration(s.median_time_to_next_seconds)) }
                        dt { "p90 time to next" } dd { (duration(s.p90_time_to_next_seconds)) }
                    }
                    @if let Some(n) = next { p { a href=(p.funnel_link(&s.name, &n.name)) { "Open the funnel " (s.name) " → " (n.name) } } }
                    @if next.is_some() {
                        @if let Some(link) = p.save_as_segment(&format!("Stopped at {}", s.name), &format!("stage = '{}'", s.name)) {
                            p { a href=(link) { "Save the customers who stopped here as a segment" } }
                        }
                    }
                }
                "value" => {
                    dl.facts {
                        dt { "Stopped here" } dd { (count(s.value.customers)) }
                        dt { "Mean revenue to date" } dd { (s.value.mean_revenue.map_or_else(|| if p.map.scope.has_revenue { "–".to_string() } else { "no revenue in the data".to_string() }, money)) }
                        dt { "Mean predicted CLV" } dd { (s.value.mean_predicted_clv.map_or("–".into(), money)) " (" (count(s.value.predicted_customers)) " buyers)" }
                    }
                    p { a href=(p.link("/clv", &[])) { "Lifetime value" } }
                }
                "touchpoints" => {
                    table.data {
                        thead { tr { th { "Touchpoint" } th.num { "Reach" } th.num { "Lift" } th.num { "Exit" } } }
                        tbody {
                            @for t in &s.touchpoints {
                                tr title=(format!("{} customers, {} events; converted {} with vs {} without", t.customers, t.events, opt_pct(t.conversion_with), opt_pct(t.conversion_without))) {
                                    td {
                                        a href=(p.touchpoint_link(&t.name, s.index)) { (t.name) }
                                        @if let Some(paths) = p.touchpoint_paths(&t.name) { " " a.muted href=(paths) title=(format!("Paths from {}", t.name)) { "paths" } }
                                    }
                                    td.num { (pct(t.reach)) }
                                    td.num { (t.lift.map_or("–".into(), |l| format!("×{l:.2}"))) }
                                    td.num { (pct(t.exit_rate)) }
                                }
                            }
                        }
                    }
                    p.muted { "Each touchpoint opens the funnel of the customers who met it in this stage and how many moved on; \"paths\" shows where they went." }
                }
                "actions" => {
                    table.data {
                        thead { tr { th { "Action" } th.num { "Customers" } th.num { "Events" } } }
                        tbody { @for a in &s.actions { tr { td { a href=(p.action_link(&a.event, s.index)) { (a.event) } " " a.muted href=(p.link("/paths", &[("from-event", &a.event)])) { "paths" } } td.num { (count(a.customers)) } td.num { (count(a.events)) } } } }
                    }
                }
                "channels" => {
                    table.data {
                        thead { tr { th { "Channel" } th.num { "Customers" } th.num { "Events" } th.num { "Share" } } }
                        tbody { @for c in &s.channels { tr { td { (c.channel) } td.num { (count(c.customers)) } td.num { (count(c.events)) } td.num { (pct(c.share)) } } } }
                    }
                    p { a href=(p.link("/attribution", &[])) { "Which channels earn the conversions" } }
                }
                "pain" => {
                    @if s.pain_points.is_empty() { p.muted { "No significant pain point in this stage." } }
                    @for pp in &s.pain_points {
                        div.card.pain {
                            div.card-kind { (pp.kind.label()) }
                            div.card-title { (pp.title) }
                            div { (pp.evidence) }
                            div.card-num { "p " (pp.p_value.map_or("–".to_string(), crate::text::fmt_p)) " · " (count(pp.affected_customers)) " customers · severity " (format!("{:.0}", pp.severity)) }
                            @match pp.kind {
                                wayfarer_engine::journey::pain::PainKind::NegativeEmotion => a href=(p.link("/surveys", &[])) { "Surveys and comments" },
                                wayfarer_engine::journey::pain::PainKind::ExitTouchpoint => @if let Some(t) = &pp.touchpoint {
                                    a href=(p.touchpoint_link(t, s.index)) { "Customers who met " (t) " in " (s.name) }
                                    @if let Some(paths) = p.touchpoint_paths(t) { " · " a href=(paths) { "Paths from " (t) } }
                                },
                                _ => @if let Some(n) = next { a href=(p.funnel_link(&s.name, &n.name)) { "Open the funnel " (s.name) " → " (n.name) } },
                            }
                        }
                    }
                }
                "opportunities" => {
                    @if s.opportunities.is_empty() { p.muted { "No opportunity derived for this stage." } }
                    @for o in &s.opportunities {
                        div.card.opp { div.card-title { (o.title) } div { (o.action) } div.card-num { (count(o.customers)) " customers · " (o.segment) } div.muted { (o.assumption) } }
                    }
                }
                "discovery" => {
                    @if s.index == 0 {
                        table.data {
                            thead { tr { th { "First touch" } th.num { "Customers" } th.num { "Share" } th.num { "Bought" } th.num { "Conversion" } } }
                            tbody {
                                @for d in &p.map.discovery {
                                    tr { td { (d.touchpoint) } td.num { (count(d.customers)) } td.num { (pct(d.share)) } td.num { (count(d.buyers)) } td.num { (pct(d.conversion)) } }
                                }
                            }
                        }
                    } @else {
                        p.muted { "Discovery is where customers come in: the first stage's column." }
                    }
                    p { a href=(p.link("/discovery", &[])) { "Discovery: first channels and content too, days to buy and 12-month CLV" } }
                }
                "verbatims" => {
                    @for v in &s.verbatims { blockquote class=(format!("verbatim {}", v.tone)) { "“" (v.text) "” " span.muted { (v.touchpoint) " · " (format!("{:+.2}", v.sentiment)) } } }
                    p { a href=(p.link("/surveys", &[])) { "All survey scores and terms" } }
                }
                _ => p.muted { "Unknown lane." },
            }
            h3 { "Notes" }
            @let notes: Vec<&Note> = p.notes_of(&s.name, lane).collect();
            @if notes.is_empty() { p.muted { "No notes on this cell yet." } }
            ul.notes-list {
                @for n in &notes {
                    li {
                        div { span class=(format!("status {}", n.status.as_str())) { (n.status.as_str()) } " " strong { (n.owner) } " " span.muted { (n.updated_at.get(..16).unwrap_or(&n.updated_at).replace('T', " ")) } }
                        div.note-text { (n.hypothesis) }
                        form method="post" action=(format!("/notes/{}", n.id)) style="display:flex;gap:6px;margin-top:6px" {
                            input type="hidden" name="back" value=(p.cell_href(&s.name, lane));
                            label.muted for=(format!("st-{}", n.id)) { "Status" }
                            select id=(format!("st-{}", n.id)) name="status" {
                                @for st in NoteStatus::ALL { option value=(st.as_str()) selected[st == n.status] { (st.as_str()) } }
                            }
                            button.btn type="submit" name="action" value="status" aria-label=(format!("Update the status of note {} by {}", n.id, n.owner)) { "Update" }
                            button.btn type="submit" name="action" value="delete" aria-label=(format!("Delete note {} by {}", n.id, n.owner)) { "Delete" }
                        }
                    }
                }
            }
            form.note-form method="post" action="/notes" aria-label="Add a note" {
                input type="hidden" name="stage" value=(s.name);
                input type="hidden" name="lane" value=(lane);
                @if let Some(group) = p.group() { input type="hidden" name="persona" value=(group); }
                input type="hidden" name="back" value=(p.cell_href(&s.name, lane));
                label for="note-hypothesis" { "Hypothesis or note" }
                textarea id="note-hypothesis" name="hypothesis" required placeholder="e.g. The shipping cost appears too late; test showing it on the product page." {}
                div.row {
                    div { label for="note-owner" { "Owner" } input type="text" id="note-owner" name="owner" placeholder="name"; }
                    div { label for="note-status" { "Status" } select id="note-status" name="status" { @for st in NoteStatus::ALL { option value=(st.as_str()) { (st.as_str()) } } } }
                }
                button.btn.primary type="submit" { "Add note" }
            }
        }
    }
}
