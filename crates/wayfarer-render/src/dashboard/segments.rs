//! The Segments pages: saved segments with their sizes and last week's
//! entries and exits, a form to create one (with a live count as the
//! condition is typed), and one segment's definition, stages and members
//! with member and audience downloads.

use maud::html;
use wayfarer_engine::membership::Member;
use wayfarer_store::segment_defs::SegmentDef;

use super::{Chrome, enc, enc_path, layout};

/// One saved segment in the list.
#[derive(Debug)]
pub struct SegmentRow {
    pub def: SegmentDef,
    pub customers: usize,
    /// Entries and exits recorded in the last seven days.
    pub entered: usize,
    pub left: usize,
}

/// The create form's contents (prefilled from "save as segment" links or
/// after a refused attempt).
#[derive(Debug, Default)]
pub struct SegmentForm {
    pub name: String,
    pub condition: String,
    pub description: String,
    pub error: Option<String>,
}

#[derive(Debug)]
pub struct SegmentsPage<'a> {
    pub chrome: Chrome,
    pub rows: Result<&'a [SegmentRow], String>,
    pub customers: usize,
    pub form: SegmentForm,
}

pub fn segments_page(p: &SegmentsPage) -> String {
    layout(
        &p.chrome,
        &html! {
            p.muted style="margin-top:0" {
                "Customers by a condition over everything they did: traits, "
                code { "did 'EVENT'[condition] >= N within 90d" } ", path patterns (" code { "did 'Product Viewed' -> [^'Order Completed']* -> 'Product Viewed'" } "), stage (" code { "stage >= 'Purchase'" } "), persona, "
                "favourite channel, NPS group, churned, first seen. Funnels, retention cohorts and map cells offer \"save as segment\". The server keeps membership live and records who enters and leaves. "
                a href="/api/segments" { "Same list as JSON" }
            }
            @match &p.rows {
                Err(e) => div.notice.error role="alert" { (e) },
                Ok([]) => div.empty { strong { "No segments yet" } "Create one below, or with `wayfarer segments create NAME --where CONDITION`." },
                Ok(rows) => section.card {
                    header { h2 { (crate::counted(rows.len() as u64, "segment")) } }
                    table.data #segments {
                        thead { tr { th { "Segment" } th.num { "Customers" } th.num { "Share" } th.num { "Entered (7 days)" } th.num { "Left (7 days)" } th { "Condition" } } }
                        tbody {
                            @for r in rows.iter() {
                                tr {
                                    td { a href=(format!("/segments/{}", enc_path(&r.def.name))) { (r.def.name) }
                                         @if !r.def.description.is_empty() { div.muted { (r.def.description) } } }
                                    td.num { (crate::count(r.customers as u64)) }
                                    td.num { (crate::pct(r.customers as f64 / p.customers.max(1) as f64)) }
                                    td.num { "+" (r.entered) }
                                    td.num { "−" (r.left) }
                                    td { code { (r.def.condition) } }
                                }
                            }
                        }
                    }
                },
            }
            section.card #new-segment {
                header { h2 { "New segment" } }
                @if let Some(e) = &p.form.error { div.notice.error role="alert" { (e) } }
                form.filters method="post" action="/segments" {
                    div.field {
                        label for="seg-name" { "Name" }
                        input #seg-name type="text" name="name" value=(p.form.name) required maxlength="64" size="28";
                    }
                    div.field style="flex:1 1 30em" {
                        label for="seg-condition" { "Condition" }
                        input #seg-condition type="text" name="condition" value=(p.form.condition) required size="60"
                            data-preview="/api/segment-preview" aria-describedby="seg-count";
                        div.hint #seg-count aria-live="polite" { "The number of customers it holds appears as you type." }
                    }
                    div.field {
                        label for="seg-description" { "Description" }
                        input #seg-description type="text" name="description" value=(p.form.description) size="28";
                    }
                    div.field { button.btn.primary type="submit" { "Save segment" } }
                }
                p.muted { "Saving needs an admin token (" code { "wayfarer keys create --admin" } "); sign in with one to create or delete segments." }
            }
        },
    )
}

#[derive(Debug)]
pub struct SegmentPage<'a> {
    pub chrome: Chrome,
    pub def: &'a SegmentDef,
    pub customers: usize,
    pub share: f64,
    pub by_stage: &'a [(String, usize)],
    pub members: &'a [Member],
    /// How many members the table shows.
    pub shown: usize,
    /// The products the members turn to most.
    pub top_items: &'a [wayfarer_engine::recommend::GroupItem],
}

pub fn segment_page(p: &SegmentPage) -> String {
    let base = format!("/segments/{}", enc_path(&p.def.name));
    let with_email = p.members.iter().filter(|m| m.email.is_some()).count();
    layout(
        &p.chrome,
        &html! {
            (super::kpis(&[
                ("Customers".to_string(), crate::count(p.customers as u64)),
                ("Share of all".to_string(), crate::pct(p.share)),
                ("With an email".to_string(), crate::count(with_email as u64)),
            ]))
            section.card {
                header { h2 { "Definition" } }
                p { code #segment-condition { (p.def.condition) } }
                @if !p.def.description.is_empty() { p { (p.def.description) } }
                p.muted { "Created " (p.def.created_at) ", changed " (p.def.updated_at) ". "
                    a href=(format!("/funnels?segment={}", enc(&p.def.name))) { "Its funnels" } " · "
                    a href=(format!("/api/segments/{}/changes", enc_path(&p.def.name))) { "Entries and exits (JSON)" } }
                p {
                    a.btn href=(format!("{base}/members.csv")) download { "Members (CSV)" } " "
                    a.btn href=(format!("{base}/audience?platform=google")) download { "Audience for Google Customer Match" } " "
                    a.btn href=(format!("{base}/audience?platform=meta")) download { "Audience for Meta Custom Audiences" }
                }
                form method="post" action=(format!("{base}/delete")) {
                    button.btn type="submit" { "Delete this segment" }
                }
            }
            @if !p.by_stage.is_empty() {
                section.card {
                    header { h2 { "By stage" } }
                    table.data { tbody { @for (s, n) in p.by_stage { tr { td { (s) } td.num { (crate::count(*n as u64)) } } } } }
                }
            }
            @if !p.top_items.is_empty() {
                section.card #top-items {
                    header { h2 { "Top products for this segment" } span.muted { "viewed, added or bought by the most members; lift = their share over everyone's" } }
                    table.data {
                        thead { tr { th { "Product" } th.num { "Members" } th.num { "Share" } th.num { "Lift" } } }
                        tbody {
                            @for t in p.top_items {
                                tr { td { code { (t.product_id) } } td.num { (crate::count(t.customers)) } td.num { (crate::pct(t.share)) } td.num { (format!("×{:.2}", t.lift)) } }
                            }
                        }
                    }
                }
            }
            section.card {
                header { h2 { "Members" @if p.members.len() > p.shown { " (the first " (p.shown) " of " (crate::count(p.members.len() as u64)) ")" } } }
                table.data #members {
                    thead { tr { th { "Customer" } th { "Stage" } th.num { "Events" } th { "Last seen" } th { "Email" } } }
                    tbody {
                        @for m in p.members.iter().take(p.shown) {
                            tr {
                                td { a href=(format!("/customers/{}", enc_path(&m.customer_id))) { (m.customer_id) } }
                                td { (m.stage.as_deref().unwrap_or("–")) }
                                td.num { (m.events) }
                                td { (m.last_seen) }
                                td { (m.email.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        },
    )
}
