//! The Triggers page: each trigger with what starts it, its action, what
//! it did (recorded, acted on, held out, pending, delivered, dead) and its
//! measured effect against the held-out arm; the latest actions below.

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

#[derive(Debug)]
pub struct TriggersPage {
    pub chrome: Chrome,
    pub rows: Result<Vec<TriggerRow>, String>,
    pub actions: Vec<ActionRow>,
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
            @match &p.rows {
                Err(e) => div.notice.error role="alert" { (e) },
                Ok(rows) if rows.is_empty() => div.empty {
                    strong { "No triggers yet" }
                    "Write them in DIR/triggers.toml (the README's \"Triggers and actions\"), e.g. a CSAT survey by webhook three days after a first order."
                },
                Ok(rows) => section.card {
                    header { h2 { (crate::counted(rows.len() as u64, "trigger")) } }
                    table.data #triggers {
                        thead { tr {
                            th { "Trigger" } th { "Action" } th.num { "Recorded" } th.num { "Acted on" } th.num { "Held out" }
                            th.num { "Pending" } th.num { "Delivered" } th.num { "Dead" } th { "Effect on the goal" }
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
