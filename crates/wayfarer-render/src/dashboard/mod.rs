//! The dashboard's pages as HTML: the layout (navigation, title bar,
//! exports), the login page, the journey map with cell details and notes,
//! the analysis pages (a form of the command's flags, then the report's
//! [`View`]), customers and settings. Pages are plain server-rendered HTML
//! with inline SVG charts; `app.js` only adds conveniences.

mod changes;
mod form;
mod map;
mod opportunities;
mod pages;
mod segments;
mod triggers;

pub use changes::{ChangesForm, ChangesPage, changes_page, comparison_report};
pub use form::{Field, FieldKind, Form};
pub use map::{MapPage, map_page};
pub use opportunities::{OpportunitiesPage, opportunities_page};
pub use pages::{AnalysisPage, CustomersPage, KeyRow, analysis_page, customer_page, customers_page, settings_page};
pub use segments::{SegmentForm, SegmentPage, SegmentRow, SegmentsPage, segment_page, segments_page};
pub use triggers::{
    ActionRow, Measured, NEW_TRIGGER, PreviewRow, TriggerEditor, TriggerPreview, TriggerRow, TriggersPage,
    triggers_page,
};

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::views::View;

/// The dashboard stylesheet, served at `/assets/app.css`.
pub const CSS: &str = concat!(include_str!("../map.css"), include_str!("app.css"));
/// The dashboard script, served at `/assets/app.js`.
pub const JS: &str = include_str!("app.js");

/// The pages in the navigation: (key, label, path).
pub const NAV: [(&str, &str, &str); 16] = [
    ("map", "Journey map", "/"),
    ("funnel", "Funnels", "/funnels"),
    ("paths", "Paths", "/paths"),
    ("retention", "Retention", "/retention"),
    ("attribution", "Attribution", "/attribution"),
    ("clv", "Lifetime value", "/clv"),
    ("personas", "Personas", "/personas"),
    ("surveys", "Surveys", "/surveys"),
    ("changes", "What changed", "/changes"),
    ("opportunities", "Opportunities", "/opportunities"),
    ("discovery", "Discovery", "/discovery"),
    ("loyalty", "Loyalty", "/loyalty"),
    ("segments", "Segments", "/segments"),
    ("triggers", "Triggers", "/triggers"),
    ("customers", "Customers", "/customers"),
    ("settings", "Settings", "/settings"),
];

/// The frame around a page.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// Key of the page in [`NAV`].
    pub page: String,
    pub title: String,
    pub subtitle: String,
    /// Export links: (label, href).
    pub exports: Vec<(String, String)>,
}

/// Percent-encodes a query-string component.
pub fn enc(s: &str) -> String {
    wayfarer_core::url::percent_encode(s, true)
}

/// Percent-encodes a path segment (a space is `%20` there, not `+`).
pub fn enc_path(s: &str) -> String {
    wayfarer_core::url::percent_encode(s, false)
}

/// A query string from pairs (empty values left out).
pub fn query(params: &[(String, String)]) -> String {
    params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A whole page: navigation, title bar with exports, content.
pub fn layout(c: &Chrome, body: &Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (crate::head(&format!("{} — Wayfarer", c.title), crate::Style::Link("/assets/app.css")))
            body {
                a.skip href="#main" { "Skip to content" }
                div.shell {
                    nav.side aria-label="Pages" {
                        div.logo { "Wayfarer" span { "Customer journeys" } }
                        ul {
                            @for (key, label, href) in NAV {
                                li { a href=(href) aria-current=[(key == c.page).then_some("page")] { (label) } }
                            }
                        }
                        form method="post" action="/logout" { button type="submit" { "Sign out" } }
                    }
                    div.content {
                        header.topbar {
                            div {
                                h1 { (c.title) }
                                @if !c.subtitle.is_empty() { div.sub { (c.subtitle) } }
                            }
                            @if !c.exports.is_empty() {
                                div.exports role="group" aria-label="Export" {
                                    span.label { "Export" }
                                    @for (label, href) in &c.exports { a href=(href) download { (label) } }
                                }
                            }
                        }
                        main id="main" { (body) }
                    }
                }
                script src="/assets/app.js" defer {}
            }
        }
    }
    .into_string()
}

/// The sign-in page (self-contained: it is shown before any asset may load).
pub fn login(error: Option<&str>, next: &str) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (crate::head("Sign in — Wayfarer", crate::Style::Inline(CSS)))
            body {
                main.login {
                    h1 { "Wayfarer" }
                    p.muted { "Sign in with a read token. Create one on the server with " code { "wayfarer keys create --read" } "." }
                    @if let Some(e) = error { div.notice.error role="alert" { (e) } }
                    form method="post" action="/login" {
                        label for="token" { "Read token" }
                        input type="password" id="token" name="token" autocomplete="current-password" required autofocus;
                        input type="hidden" name="next" value=(next);
                        button.btn.primary type="submit" { "Sign in" }
                    }
                }
            }
        }
    }
    .into_string()
}

/// A page that only says something (an error, or a missing thing).
pub fn message(c: &Chrome, heading: &str, text: &str) -> String {
    layout(c, &html! { div.empty role="status" { strong { (heading) } (text) } })
}

/// KPI tiles.
pub fn kpis(items: &[(String, String)]) -> Markup {
    html! {
        @if !items.is_empty() {
            div.kpis { @for (label, value) in items { div.kpi { div.label { (label) } div.value { (value) } } } }
        }
    }
}

/// A view's charts (each with its own export links) and tables.
pub fn view(v: &View, export_base: &str) -> Markup {
    let link = |fmt: &str, chart: &str| format!("{export_base}&format={fmt}&chart={}", enc(chart));
    html! {
        (kpis(&v.kpis))
        @for n in &v.notes { div.notice { (n) } }
        @for c in &v.charts {
            section.card aria-labelledby=(format!("h-{}", c.id)) {
                header {
                    h2 id=(format!("h-{}", c.id)) { (c.title) }
                    div.exports role="group" aria-label=(format!("Export {}", c.title)) {
                        @for (label, fmt) in [("PNG", "png"), ("SVG", "svg"), ("CSV", "csv"), ("XLSX", "xlsx")] {
                            a href=(link(fmt, &c.id)) download aria-label=(format!("{} as {label}", c.title)) { (label) }
                        }
                    }
                }
                div.chart { (PreEscaped(&c.svg)) }
                details { summary { "Numbers behind this chart" } (crate::export::data_table(&c.data, 200)) }
            }
        }
        @if !v.segments.is_empty() {
            section.card #save-as-segment aria-labelledby="h-save-as-segment" {
                header { h2 #h-save-as-segment { "Save as a segment" } }
                p.muted { "A saved segment keeps these customers live (entries and exits recorded), scopes the map and other analyses, and exports as an ad audience." }
                ul.save-segments {
                    @for (what, n, condition) in &v.segments {
                        li {
                            a href=(format!("/segments?name={}&condition={}#new-segment", enc(&wayfarer_store::segment_defs::suggest_name(what)), enc(condition))) { (what) }
                            " · " (crate::counted(*n, "customer"))
                        }
                    }
                }
            }
        }
        @if !v.explore.is_empty() {
            section.card #explore aria-labelledby="h-explore" {
                header { h2 #h-explore { "Explore" } }
                ul.save-segments {
                    @for (what, key, value) in &v.explore {
                        li { a href=(explore_link(export_base, key, value)) { (what) } }
                    }
                }
            }
        }
        @for t in &v.tables {
            section.card id=(format!("t-{}", t.name)) {
                header {
                    h2 { (table_title(&t.name)) }
                    div.exports { a href=(link("csv", &t.name)) download aria-label=(format!("{} as CSV", table_title(&t.name))) { "CSV" } }
                }
                @if t.rows.is_empty() { p.muted { "No rows." } } @else { (crate::export::data_table(t, 100)) }
            }
        }
    }
}

/// The page itself with `key=value` instead of any drill-down it had
/// (`/funnels/export?step=A&step=B` → `/funnels?step=A&step=B&after_drop=1`).
fn explore_link(export_base: &str, key: &str, value: &str) -> String {
    let (path, query) = export_base.split_once('?').unwrap_or((export_base, ""));
    let path = path.strip_suffix("/export").unwrap_or(path);
    let drill = ["after-drop", "after_drop", "between", "before", "format", "chart"];
    let mut kept: Vec<&str> =
        query.split('&').filter(|p| !p.is_empty() && !drill.contains(&p.split('=').next().unwrap_or(""))).collect();
    let added = format!("{key}={}", enc(value));
    kept.push(&added);
    // Straight to the table the drill-down adds.
    let anchor = match key {
        "after-drop" => format!("t-what-they-did-instead-after-step-{value}"),
        _ => "explore".to_string(),
    };
    format!("{path}?{}#{anchor}", kept.join("&"))
}

fn table_title(name: &str) -> String {
    let s = name.replace('-', " ");
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().collect::<String>() + c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explore_links_replace_the_drill_down() {
        let base = "/funnels/export?step=A&step=B&after_drop=1&format=csv";
        assert_eq!(
            explore_link(base, "after-drop", "2"),
            "/funnels?step=A&step=B&after-drop=2#t-what-they-did-instead-after-step-2"
        );
    }

    #[test]
    fn query_strings_are_encoded() {
        let q = query(&[("step".into(), "Order Completed[revenue > 100]".into()), ("x".into(), String::new())]);
        assert_eq!(q, "step=Order+Completed%5Brevenue+%3E+100%5D");
        assert_eq!(enc("a&b=c/é"), "a%26b%3Dc%2F%C3%A9");
        assert_eq!(enc_path("Ana Lopez+1"), "Ana%20Lopez%2B1");
    }

    #[test]
    fn the_layout_marks_the_current_page_and_escapes_titles() {
        let c = Chrome { page: "funnel".into(), title: "<Funnels>".into(), ..Chrome::default() };
        let page = layout(&c, &html! { p { "x" } });
        assert!(page.contains(r#"<a href="/funnels" aria-current="page">Funnels</a>"#));
        assert!(page.contains("&lt;Funnels&gt;"));
        assert_eq!(page.matches("aria-current").count(), 1);
    }
}
