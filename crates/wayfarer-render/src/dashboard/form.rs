//! Forms of the analysis pages: a GET form whose field names are the
//! command's flags, so a page's URL is its query (`/funnels?step=A&step=B`)
//! and the same parameters work on `/api/*`.

use maud::{Markup, html};

#[derive(Debug, Clone)]
pub enum FieldKind {
    Text,
    Date,
    /// A whole number (1 or more).
    Number,
    /// Any number.
    Decimal,
    /// Options as (value, label); the empty value means "not set".
    Select(Vec<(String, String)>),
    Check,
    /// A list of values in order (funnel steps), with an "Add step" button.
    Steps,
    /// A repeatable value shown as a few inputs.
    Repeat(usize),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    pub values: Vec<String>,
    pub hint: String,
    /// Suggest event names as the user types.
    pub events: bool,
}

impl Field {
    pub fn new(name: &str, label: &str, kind: FieldKind) -> Field {
        Field { name: name.into(), label: label.into(), kind, values: Vec::new(), hint: String::new(), events: false }
    }
    pub fn hint(mut self, h: &str) -> Field {
        self.hint = h.into();
        self
    }
    pub fn events(mut self) -> Field {
        self.events = true;
        self
    }
    /// Takes this field's values from the request's parameters, else `default`.
    pub fn from(mut self, params: &[(String, String)], default: &[&str]) -> Field {
        self.values = params.iter().filter(|(k, _)| *k == self.name).map(|(_, v)| v.clone()).collect();
        if self.values.is_empty() {
            self.values = default.iter().map(ToString::to_string).collect();
        }
        self
    }
    fn value(&self) -> &str {
        self.values.first().map_or("", String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<Field>,
    pub submit: String,
    /// Event names offered as suggestions.
    pub event_names: Vec<String>,
}

pub fn render(f: &Form) -> Markup {
    html! {
        form.filters method="get" action=(f.action) role="search" aria-label="Query" {
            @for field in &f.fields { (render_field(field)) }
            div.field { button.btn.primary type="submit" { (f.submit) } }
            @if f.fields.iter().any(|x| x.events) {
                datalist id="event-names" { @for e in &f.event_names { option value=(e) {} } }
            }
        }
    }
}

fn render_field(f: &Field) -> Markup {
    let id = format!("f-{}", f.name);
    let list = f.events.then_some("event-names");
    html! {
        div.field {
            @match &f.kind {
                FieldKind::Steps => {
                    span id=(format!("{id}-label")) class="label" style="display:block;font-size:12px;font-weight:600;color:var(--muted);margin-bottom:3px" { (f.label) }
                    div.steps id=(format!("{id}-list")) role="group" aria-labelledby=(format!("{id}-label")) {
                        @let n = f.values.len().max(2);
                        @for i in 0..n {
                            @if i > 0 { span.arrow aria-hidden="true" { "→" } }
                            input type="text" name=(f.name) id=(format!("step-{}", i + 1)) aria-label=(format!("Step {}", i + 1))
                                value=(f.values.get(i).map_or("", String::as_str)) list=[list] autocomplete="off";
                        }
                        button.btn type="button" data-add-step=(format!("{id}-list")) { "+ Add step" }
                    }
                }
                FieldKind::Repeat(n) => {
                    label for=(format!("{id}-1")) { (f.label) }
                    @for i in 0..(*n).max(f.values.len()) {
                        input type="text" name=(f.name) id=(format!("{id}-{}", i + 1)) aria-label=(format!("{} {}", f.label, i + 1))
                            value=(f.values.get(i).map_or("", String::as_str)) list=[list] autocomplete="off";
                        " "
                    }
                }
                FieldKind::Check => {
                    label for=(id) {
                        input type="checkbox" id=(id) name=(f.name) value="true" checked[matches!(f.value(), "true" | "1" | "yes")];
                        " " (f.label)
                    }
                }
                FieldKind::Select(options) => {
                    label for=(id) { (f.label) }
                    select id=(id) name=(f.name) {
                        @for (v, l) in options { option value=(v) selected[v == f.value()] { (l) } }
                    }
                }
                FieldKind::Date => {
                    label for=(id) { (f.label) }
                    input type="date" id=(id) name=(f.name) value=(f.value());
                }
                FieldKind::Number => {
                    label for=(id) { (f.label) }
                    input type="number" id=(id) name=(f.name) value=(f.value()) min="1";
                }
                FieldKind::Decimal => {
                    label for=(id) { (f.label) }
                    input type="number" id=(id) name=(f.name) value=(f.value()) step="any";
                }
                FieldKind::Text => {
                    label for=(id) { (f.label) }
                    input type="text" id=(id) name=(f.name) value=(f.value()) list=[list] autocomplete="off";
                }
            }
            @if !f.hint.is_empty() { div.hint { (f.hint) } }
        }
    }
}
