//! Analysis pages (form + view), customers (search, profile, timeline) and
//! settings (the configuration and keys, read-only).

use maud::{PreEscaped, html};
use wayfarer_core::Config;
use wayfarer_engine::customers::{CustomerMatch, CustomerProfile};

use super::form::{self, Form};
use super::{Chrome, layout};
use crate::chart::{self, PALETTE, Svg, esc};
use crate::views::View;

/// An analysis page: what it is, its query form, and the answer.
#[derive(Debug)]
pub struct AnalysisPage {
    pub chrome: Chrome,
    pub intro: String,
    pub form: Form,
    /// `Ok(None)`: nothing asked yet; `Err`: the query's problem in words.
    pub result: Result<Option<View>, String>,
    /// Shown when nothing was asked yet: (heading, text).
    pub empty: (String, String),
    /// `/funnels/export?…` (the current query), for chart exports.
    pub export_base: String,
    /// The same query on the JSON API.
    pub api: String,
}

pub fn analysis_page(p: &AnalysisPage) -> String {
    layout(
        &p.chrome,
        &html! {
            p.muted style="margin-top:0" { (p.intro) " " a href=(p.api) { "Same query as JSON" } }
            (form::render(&p.form))
            @match &p.result {
                Err(e) => div.notice.error role="alert" { strong { "This query could not run. " } (e) },
                Ok(None) => div.empty { strong { (p.empty.0) } (p.empty.1) },
                Ok(Some(v)) => (super::view(v, &p.export_base)),
            }
        },
    )
}

#[derive(Debug)]
pub struct CustomersPage<'a> {
    pub chrome: Chrome,
    pub query: &'a str,
    pub matches: &'a [CustomerMatch],
    pub error: Option<String>,
}

pub fn customers_page(p: &CustomersPage) -> String {
    layout(
        &p.chrome,
        &html! {
            form.filters method="get" action="/customers" role="search" {
                div.field {
                    label for="q" { "User id, anonymous id or trait" }
                    input type="search" id="q" name="q" value=(p.query) size="40" autofocus;
                    div.hint { "Part of an id, any trait value, or NAME=VALUE for one trait (email=ana@example.com)." }
                }
                div.field { button.btn.primary type="submit" { "Search" } }
            }
            @if let Some(e) = &p.error { div.notice.error role="alert" { (e) } }
            @if p.query.trim().is_empty() {
                div.empty { strong { "Find a customer" } "Search by id or trait to see their profile, stage, persona, value and timeline." }
            } @else if p.matches.is_empty() && p.error.is_none() {
                div.empty { strong { "No customer matches “" (p.query) "”" } "Ids and trait values are matched in part and without regard to case." }
            } @else if !p.matches.is_empty() {
                section.card {
                    header { h2 { (p.matches.len()) " customers" } }
                    table.data {
                        thead { tr { th { "Customer" } th { "Matched" } } }
                        tbody {
                            @for m in p.matches {
                                tr { td { a href=(format!("/customers/{}", super::enc_path(&m.customer_id))) { (m.customer_id) } } td { (m.matched) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// One customer: identities, traits, stage, persona, value and timeline.
pub fn customer_page(
    chrome: &Chrome,
    c: &CustomerProfile,
    predicted_clv: Option<f64>,
    recommended: &[wayfarer_engine::recommend::Recommended],
) -> String {
    let channels: Vec<&str> = c.channels.iter().map(|x| x.channel.as_str()).collect();
    let colour = |ch: &str| PALETTE[channels.iter().position(|c| *c == ch).unwrap_or(0) % PALETTE.len()];
    layout(
        chrome,
        &html! {
            (super::kpis(&[
                ("Current stage".to_string(), c.current_stage.clone().unwrap_or_else(|| "–".into())),
                ("Persona".to_string(), c.persona.clone().unwrap_or_else(|| "–".into())),
                ("Revenue to date".to_string(), crate::money(c.revenue)),
                ("Predicted CLV".to_string(), predicted_clv.map_or_else(|| "–".into(), crate::money)),
                ("Purchases".to_string(), c.purchases.to_string()),
                ("Events · sessions".to_string(), format!("{} · {}", crate::count(c.events), c.sessions)),
            ]))
            div.grid2 {
                section.card {
                    header { h2 { "Identity" } }
                    dl.facts {
                        dt { "First seen" } dd { (when(c.first_seen.as_deref())) }
                        dt { "Last seen" } dd { (when(c.last_seen.as_deref())) }
                        dt { "Identities" } dd { @for i in &c.identities { code { (i) } " " } }
                        @for (k, v) in &c.traits {
                            dt { (k) } dd { (v.as_str().map_or_else(|| v.to_string(), str::to_string)) }
                        }
                    }
                }
                section.card {
                    header { h2 { "Stages" } }
                    table.data {
                        thead { tr { th { "Stage" } th { "Entered" } } }
                        tbody { @for s in &c.stages { tr { td { (s.stage) } td { (when(Some(&s.entered_at))) } } } }
                    }
                    h3 { "Channels" }
                    ul.legend {
                        @for ch in &c.channels {
                            li { span.swatch style=(format!("background:{}", colour(&ch.channel))) {} (ch.channel) " " span.muted { (crate::count(ch.events)) (if ch.events == 1 { " event" } else { " events" }) } }
                        }
                    }
                }
            }
            @if !recommended.is_empty() {
                section.card #recommended {
                    header { h2 { "Recommended products" } span.muted { "what goes with what they viewed and bought (EASE), leaving out what they had" } }
                    ol { @for r in recommended { li { code { (r.product_id) } } } }
                }
            }
            section.card {
                header { h2 { "Touchpoints over time, by channel" } }
                div.chart { (PreEscaped(timeline_svg(c, &channels))) }
            }
            section.card {
                header {
                    h2 { "Timeline" }
                    @if c.timeline_truncated { span.muted { "the most recent " (c.timeline.len()) " of " (crate::count(c.events)) " events" } }
                }
                ol.timeline {
                    @for e in c.timeline.iter().rev() {
                        li {
                            span.muted { (e.timestamp.get(..16).unwrap_or(&e.timestamp).replace('T', " ")) }
                            span.dot style=(format!("background:{}", colour(&e.channel))) title=(e.channel) {}
                            span {
                                strong { (e.event) } " " span.muted { (e.channel) " · session " (e.session) @if let Some(s) = &e.stage { " · " (s) } }
                                @if let Some(r) = e.revenue { " " strong { (crate::money(r)) } }
                                @if let Some(t) = &e.text { div { "“" (t) "”" } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A timestamp for people: `2026-05-02 14:14 UTC`.
fn when(ts: Option<&str>) -> String {
    match ts {
        Some(t) => t.get(..16).map_or_else(|| t.to_string(), |head| format!("{} UTC", head.replace('T', " "))),
        None => "–".into(),
    }
}

/// Events as dots on a time axis, one row per channel.
fn timeline_svg(c: &CustomerProfile, channels: &[&str]) -> String {
    let ts: Vec<i64> =
        c.timeline.iter().filter_map(|e| wayfarer_core::time::parse_timestamp(&e.timestamp).ok()).collect();
    let (Some(lo), Some(hi)) = (ts.iter().min().copied(), ts.iter().max().copied()) else {
        return "<p class=\"muted\">No events.</p>".into();
    };
    let (w, left, row) = (880.0, 130.0, 26.0);
    let h = 30.0 + row * channels.len() as f64;
    let span = (hi - lo).max(1) as f64;
    let mut s = Svg::new(w, h);
    for (i, ch) in channels.iter().enumerate() {
        let y = 14.0 + row * i as f64 + row / 2.0;
        s.text(left - 8.0, y + 4.0, &chart::clip(ch, 18), 12.0, "#1f2933", "end", 500);
        s.line(left, y, w - 10.0, y, "#e5e7eb", "");
    }
    for (e, t) in c.timeline.iter().zip(&ts) {
        let i = channels.iter().position(|c| *c == e.channel).unwrap_or(0);
        let x = left + (w - left - 20.0) * (*t - lo) as f64 / span;
        let y = 14.0 + row * i as f64 + row / 2.0;
        let r = if e.revenue.is_some() { 6.0 } else { 4.0 };
        s.raw(&format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{}" fill-opacity="0.8"><title>{}</title></circle>"#,
            PALETTE[i % PALETTE.len()],
            esc(&format!("{} · {} · {}", e.timestamp, e.event, e.channel))
        ));
    }
    s.text(
        left,
        h - 4.0,
        c.timeline.first().map_or("", |e| e.timestamp.get(..10).unwrap_or("")),
        11.0,
        "#6b7280",
        "start",
        400,
    );
    s.text(
        w - 10.0,
        h - 4.0,
        c.timeline.last().map_or("", |e| e.timestamp.get(..10).unwrap_or("")),
        11.0,
        "#6b7280",
        "end",
        400,
    );
    s.finish("Customer timeline by channel")
}

/// A key as the settings page lists it.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// The configuration in force: stages, touchpoints, channel rules,
/// personas, sessions; and the API keys (never the keys themselves).
pub fn settings_page(
    chrome: &Chrome,
    config: &Config,
    config_source: &str,
    keys: &[KeyRow],
    doctor: Result<&wayfarer_engine::doctor::DoctorReport, &str>,
) -> String {
    use wayfarer_engine::doctor::Level;
    let rule = |event: &str, channel: &Option<String>, when: &Option<String>| {
        let mut s = format!("event {event}");
        if let Some(c) = channel {
            s.push_str(&format!(" · channel {c}"));
        }
        if let Some(w) = when {
            s.push_str(&format!(" · when {w}"));
        }
        s
    };
    layout(
        chrome,
        &html! {
            div.notice { "Read from " code { (config_source) } ". Edit the file and restart the server to change these; editing here will come later." }
            section.card #doctor {
                header { h2 { "How the configuration fits the data" } }
                @match &doctor {
                    Err(e) => div.notice.error { (e) },
                    Ok(r) => {
                        p.muted { "Checked " (crate::count(r.customers)) " customers and " (crate::count(r.events)) " events (the same checks as " code { "wayfarer doctor" } ")." }
                        table.data {
                            tbody {
                                @for c in &r.checks {
                                    tr.{ "doctor-" (match c.level { Level::Ok => "ok", Level::Warning => "warning", Level::Problem => "problem" }) } {
                                        td { span.level { (match c.level { Level::Ok => "ok", Level::Warning => "warning", Level::Problem => "problem" }) } }
                                        td {
                                            (c.message)
                                            @if !c.items.is_empty() {
                                                details { summary { (c.items.len()) " named" } ul { @for i in &c.items { li { code { (i) } } } } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                header { h2 { "Stage model" } }
                table.data {
                    thead { tr { th { "#" } th { "Stage" } th { "Description" } th { "Entered by" } } }
                    tbody {
                        @for (i, s) in config.stages.iter().enumerate() {
                            tr { td { (i + 1) } td { strong { (s.name) } } td { (s.description) }
                                td { @for r in &s.rules { div { code { (rule(&r.event, &r.channel, &r.when)) } } } } }
                        }
                    }
                }
                p.muted { "Customers churn after " (config.journey.churn_after_days) " days without activity; purchases are " code { (config.journey.purchase_event) } " events." }
            }
            div.grid2 {
                section.card {
                    header { h2 { "Touchpoints" } }
                    @if config.touchpoints.is_empty() { p.muted { "None configured: every event name is its own touchpoint." } }
                    table.data {
                        tbody { @for t in &config.touchpoints { tr { td { strong { (t.name) } } td { code { (rule(&t.event, &t.channel, &t.when)) } } } } }
                    }
                }
                section.card {
                    header { h2 { "Channel rules" } }
                    p.muted { "Custom rules first, then GA4's default channel grouping. Own domains: " (config.channels.own_domains.join(", ")) "." }
                    @if config.channels.rules.is_empty() { p.muted { "No custom rules." } }
                    table.data {
                        tbody { @for r in &config.channels.rules { tr { td { strong { (r.name) } } td { code { (r.when) } } } } }
                    }
                }
            }
            div.grid2 {
                section.card {
                    header { h2 { "Personas" } }
                    @if config.personas.is_empty() { p.muted { "None written by hand; the map uses discovered personas." } }
                    table.data {
                        tbody { @for p in &config.personas { tr { td { strong { (p.name) } div.muted { (p.description) } } td { code { (p.when) } } } } }
                    }
                }
                section.card {
                    header { h2 { "Sessions" } }
                    dl.facts {
                        dt { "Timeout" } dd { (config.sessions.timeout_minutes) " minutes" }
                        dt { "Engaged after" } dd { (config.sessions.engaged_seconds) " seconds" }
                        dt { "Conversions" } dd { (config.sessions.conversion_events.join(", ")) }
                    }
                }
            }
            section.card {
                header { h2 { "API keys" } }
                p.muted { "Keys are stored hashed; create and revoke them with " code { "wayfarer keys" } "." }
                table.data {
                    thead { tr { th { "Id" } th { "Kind" } th { "Name" } th { "Created" } th { "Status" } } }
                    tbody {
                        @for k in keys {
                            tr { td { code { (k.id) } } td { (k.kind) } td { (k.name) } td { (k.created_at) }
                                td { @match &k.revoked_at { Some(t) => span.muted { "revoked " (t) }, None => "active" } } }
                        }
                    }
                }
            }
        },
    )
}
