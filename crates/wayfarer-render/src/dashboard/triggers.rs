//! The Triggers page: each trigger with what starts it, its action, what
//! it did (recorded, acted on, held out, pending, delivered, dead) and its
//! measured effect against the held-out arm, with pause/resume, an editor
//! of its definition and a "test with a customer" preview of what would be
//! sent; the latest actions below. Changes are POSTed to the server's form
//! handlers (an admin token); the page only reads.

use maud::html;

use super::{Chrome, layout};

/// One trigger in the list.
#[derive(Debug, Clone, Default)]
pub struct TriggerRow {
    pub name: String,
    pub when: String,
    pub action: String,
    pub paused: bool,
    pub recorded: usize,
    pub acted: usize,
    pub held_out: usize,
    pub pending: usize,
    pub delivered: usize,
    pub dead: usize,
    /// The goal, and the effect when it can be measured.
    pub goal: Option<String>,
    pub effect: Option<Measured>,
}

/// A trigger's effect on its goal.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub rate_acted: f64,
    pub rate_held_out: f64,
    pub difference: f64,
    pub interval: (f64, f64),
    pub p_value: f64,
}

/// One recent action.
#[derive(Debug, Clone)]
pub struct ActionRow {
    pub due: String,
    pub trigger: String,
    pub customer: String,
    pub kind: String,
    pub state: String,
    pub attempts: u32,
    pub error: Option<String>,
}

/// The editor of one trigger's `[[trigger]]` block.
#[derive(Debug, Clone, Default)]
pub struct TriggerEditor {
    /// The trigger being edited (empty: a new one).
    pub original: String,
    pub definition: String,
    pub error: Option<String>,
}

/// One occurrence in a preview.
#[derive(Debug, Clone)]
pub struct PreviewRow {
    pub occurred_at: String,
    pub due_at: String,
    pub outcome: String,
    /// The action that would be recorded (webhook, email, holdout, none).
    pub action: Option<String>,
    /// The payload, pretty JSON.
    pub payload: String,
}

/// "Test with a customer": what a trigger would do for them.
#[derive(Debug, Clone)]
pub struct TriggerPreview {
    pub trigger: String,
    pub customer: String,
    pub rows: Result<Vec<PreviewRow>, String>,
}

#[derive(Debug)]
pub struct TriggersPage {
    pub chrome: Chrome,
    pub rows: Result<Vec<TriggerRow>, String>,
    pub actions: Vec<ActionRow>,
    pub editor: Option<TriggerEditor>,
    pub preview: Option<TriggerPreview>,
    /// What the last change did ("Trigger 'X' saved").
    pub notice: Option<String>,
    /// Why the last change was refused.
    pub problem: Option<String>,
}

/// What a new trigger's editor starts with.
pub const NEW_TRIGGER: &str = r#"[[trigger]]
name = "CSAT after first order"
when = "event Order Completed"
wait = "3d"
holdout = 0.1
goal = "Survey Responded"
goal_within = "14d"

[trigger.webhook]
url = "https://hooks.example.com/wayfarer"
secret_env = "WAYFARER_HOOK_SECRET"

[trigger.survey]
kind = "csat"
"#;

fn editor(e: &TriggerEditor) -> maud::Markup {
    html! {
        section.card #editor {
            header { h2 { @if e.original.is_empty() { "New trigger" } @else { "Edit '" (e.original) "'" } } }
            @if let Some(err) = &e.error { div.notice.error role="alert" { (err) } }
            form method="post" action="/triggers" {
                input type="hidden" name="original" value=(e.original);
                label for="definition" {
                    "The trigger's " code { "[[trigger]]" } " block, as in " code { "triggers.toml" }
                    " (keys: name, when, wait, until, unless, if, holdout, limit, goal, goal_within, start, paused; "
                    "tables: webhook, email, survey, referral). It is checked against the data before it is saved; "
                    "the file's comments and other triggers are kept."
                }
                textarea #definition name="definition" rows="16" spellcheck="false" style="width:100%;font-family:monospace" {
                    (e.definition)
                }
                div { button type="submit" { "Save trigger" } " " a href="/triggers" { "Cancel" } }
            }
        }
    }
}

fn preview(p: &TriggerPreview) -> maud::Markup {
    html! {
        section.card #preview {
            header { h2 { "'" (p.trigger) "' for customer " code { (p.customer) } } }
            @match &p.rows {
                Err(e) => div.notice.error role="alert" { (e) },
                Ok(rows) if rows.is_empty() => p.muted { "The trigger never starts for this customer in the data." },
                Ok(rows) => {
                    p.muted { "What the trigger would do for this customer now (nothing is recorded or sent):" }
                    @for r in rows {
                        div.preview-occurrence {
                            p {
                                strong { (r.outcome) } " — occurred " (r.occurred_at) ", due " (r.due_at)
                                @if let Some(a) = &r.action { "; would record a " strong { (a) } " action" }
                            }
                            @if r.action.is_some() {
                                details open {
                                    summary { "What would be sent" }
                                    pre style="white-space:pre-wrap;overflow-x:auto" { code { (r.payload) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

pub fn triggers_page(p: &TriggersPage) -> String {
    layout(
        &p.chrome,
        &html! {
            p.muted style="margin-top:0" {
                "Triggers act when a customer enters a stage or segment or does something, after a wait, and keep a control group "
                "to measure the effect. They are defined in " code { "DIR/triggers.toml" } " (" code { "wayfarer triggers check" } " names any mistake); "
                "the server evaluates them after each commit and delivers through the outbox."
            }
            @if let Some(n) = &p.notice { div.notice role="status" { (n) } }
            @if let Some(n) = &p.problem { div.notice.error role="alert" { (n) } }
            p { a href="/triggers?new=1#editor" { "New trigger" } }
            @if let Some(e) = &p.editor { (editor(e)) }
            @if let Some(v) = &p.preview { (preview(v)) }
            @match &p.rows {
                Err(e) => div.notice.error role="alert" { (e) },
                Ok(rows) if rows.is_empty() => div.empty {
                    strong { "No triggers yet" }
                    "Create one above (\"New trigger\") or write them in DIR/triggers.toml (the README's \"Triggers and actions\"), e.g. a CSAT survey by webhook three days after a first order."
                },
                Ok(rows) => section.card {
                    header { h2 { (crate::counted(rows.len() as u64, "trigger")) } }
                    table.data #triggers {
                        thead { tr {
                            th { "Trigger" } th { "Action" } th.num { "Recorded" } th.num { "Acted on" } th.num { "Held out" }
                            th.num { "Pending" } th.num { "Delivered" } th.num { "Dead" } th { "Effect on the goal" } th { "Manage" }
                        } }
                        tbody {
                            @for r in rows {
                                tr {
                                    td { strong { (r.name) } @if r.paused { " (paused)" } div.muted { code { (r.when) } } }
                                    td { (r.action) }
                                    td.num { (r.recorded) } td.num { (r.acted) } td.num { (r.held_out) }
                                    td.num { (r.pending) } td.num { (r.delivered) }
                                    td.num { @if r.dead > 0 { strong { (r.dead) } } @else { "0" } }
                                    td {
                                        @match (&r.goal, r.effect) {
                                            (None, _) => span.muted { "no goal" },
                                            (Some(g), None) => { (g) ": " span.muted { "both arms need customers" } },
                                            (Some(g), Some(m)) => {
                                                (g) ": " (pct(m.rate_acted)) " vs " (pct(m.rate_held_out)) " held out; "
                                                strong { (format!("{:+.1}", m.difference * 100.0)) " points" }
                                                " (95 % CI " (format!("{:+.1} to {:+.1}", m.interval.0 * 100.0, m.interval.1 * 100.0))
                                                ", " (if m.p_value < 0.001 { "p < 0.001".to_string() } else { format!("p = {:.3}", m.p_value) }) ")"
                                            }
                                        }
                                    }
                                    td.manage {
                                        @let path = super::enc_path(&r.name);
                                        form method="post" action=(format!("/triggers/{path}/{}", if r.paused { "resume" } else { "pause" })) style="display:inline" {
                                            button type="submit" aria-label=(format!("{} {}", if r.paused { "Resume" } else { "Pause" }, r.name)) {
                                                @if r.paused { "Resume" } @else { "Pause" }
                                            }
                                        }
                                        " "
                                        a href=(format!("/triggers?edit={}#editor", super::enc(&r.name))) aria-label=(format!("Edit {}", r.name)) { "Edit" }
                                        form method="get" action="/triggers#preview" style="margin-top:0.3em" {
                                            input type="hidden" name="preview" value=(r.name);
                                            label { span.sr-only { "Customer id to test " (r.name) " with" }
                                                input type="text" name="customer" placeholder="customer id" size="12" required; }
                                            " " button type="submit" aria-label=(format!("Test {} with this customer", r.name)) { "Test" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                },
            }
            @if !p.actions.is_empty() {
                section.card {
                    header { h2 { "Latest actions" } }
                    table.data #actions {
                        thead { tr { th { "Due" } th { "Trigger" } th { "Customer" } th { "Kind" } th { "State" } th.num { "Attempts" } th { "Last error" } } }
                        tbody {
                            @for a in &p.actions {
                                tr {
                                    td { (a.due) } td { (a.trigger) }
                                    td { a href=(format!("/customers/{}", super::enc_path(&a.customer))) { (a.customer) } }
                                    td { (a.kind) } td { (a.state) } td.num { (a.attempts) }
                                    td { (a.error.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
