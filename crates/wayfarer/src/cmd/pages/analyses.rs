//! The analysis pages: a form generated from the command's flags, the
//! command's report drawn as charts and tables, and their exports.

use super::*;

/// The segments offered on the map: first channels (those of the first
/// stage, by share), purchases and status.
/// Flags a page does not offer (every customer's rows belong in exports).
const NOT_ON_PAGES: [&str; 1] = ["customers"];

/// The form field of one flag; `None` for flags a page does not offer, and
/// for `--persona` when the configuration has no hand-written personas.
fn form_field(p: &QueryParam, params: &[(String, String)], personas: &[String]) -> Option<Field> {
    if NOT_ON_PAGES.contains(&p.name.as_str()) {
        return None;
    }
    let mut label = p.name.replace('-', " ");
    label[..1].make_ascii_uppercase();
    let none = || (String::new(), "none".to_string());
    let kind = match p.kind {
        ParamKind::Switch => FieldKind::Check,
        _ if p.name == "persona" => {
            if personas.is_empty() {
                return None;
            }
            let mut options = vec![(String::new(), "All customers".to_string())];
            options.extend(personas.iter().map(|n| (n.clone(), n.clone())));
            FieldKind::Select(options)
        }
        _ if !p.values.is_empty() => {
            let mut options: Vec<(String, String)> = Vec::new();
            if !p.required && p.default.is_none() {
                options.push(none());
            }
            options.extend(p.values.iter().map(|v| (v.clone(), v.replace('_', " "))));
            FieldKind::Select(options)
        }
        ParamKind::Event if p.repeated && p.required => {
            label = "Steps".into();
            FieldKind::Steps
        }
        _ if p.repeated => FieldKind::Repeat(1),
        ParamKind::Integer => FieldKind::Number,
        ParamKind::Number => FieldKind::Decimal,
        ParamKind::Date => FieldKind::Date,
        ParamKind::Text | ParamKind::Event => FieldKind::Text,
    };
    let hint = !matches!(kind, FieldKind::Check | FieldKind::Select(_) | FieldKind::Date);
    let default: Vec<&str> = p.default.iter().map(String::as_str).collect();
    let mut f = Field::new(&p.name, &label, kind).from(params, &default);
    if hint {
        f = f.hint(p.help.trim_end_matches('.'));
    }
    Some(if p.kind == ParamKind::Event { f.events() } else { f })
}

/// What each analysis page says about itself: intro, and the empty state.
fn intro(command: &str) -> (&'static str, (&'static str, &'static str)) {
    let none = ("", "");
    match command {
        "funnel" => (
            "Conversion through ordered steps within a window from the first step (ClickHouse windowFunnel semantics), with exclusions, breakdowns and a trend.",
            ("Build a funnel", "Type at least two steps — event names are suggested as you type — then Run."),
        ),
        "paths" => ("The sequences of events customers take from (or to) an event; ribbon width is customers.", none),
        "retention" => (
            "Cohorts by the period of their first activity, the share active in each later period, and the lifecycle of active customers.",
            none,
        ),
        "attribution" => (
            "Credit for conversions by channel: rule-based models beside the data-driven Markov (removal effect) and Shapley models.",
            none,
        ),
        "clv" => (
            "Value to date and predicted customer lifetime value (BG/NBD for purchases, Gamma-Gamma for order value).",
            none,
        ),
        "discovery" => (
            "Which first touchpoints, channels and content (campaign, else page) bring customers who buy: conversion with its 95 % interval, days to the first purchase, the buyers' predicted 12-month CLV and the value per customer brought.",
            none,
        ),
        "loyalty" => (
            "How many customers reach each loyalty action (a converted referral, a review, a repeat order, an upgrade), by persona, and the journeys before the first time against how the others' journeys end.",
            none,
        ),
        "personas" => (
            "Personas discovered from behaviour (k-means on channel mix, stages reached, value and sentiment), with the number chosen by silhouette.",
            none,
        ),
        _ => (
            "Survey scores (NPS, CSAT, CES) and the sentiment of customers' texts, by stage, touchpoint, persona, channel and period.",
            none,
        ),
    }
}

impl Dash {
    fn view(&self, command: &str, params: &[(String, String)]) -> Result<Option<View>, Problem> {
        let params = command_params(params);
        if command == "funnel" && params.iter().filter(|(k, _)| k == "step").count() < 2 {
            return Ok(None);
        }
        // Sizes a page can draw (the CLI takes any).
        for (name, most) in [("periods", 200u64), ("length", 20), ("top", 200), ("k", 30), ("max-k", 30)] {
            if let Some(v) = param(&params, name).and_then(|v| v.parse::<u64>().ok())
                && v > most
            {
                return Err(Problem::Query(format!("{name}: at most {most} on the dashboard (found {v})")));
            }
        }
        let key = format!("{command}|{}", dashboard::query(&params));
        let view = self.cached(&key, || {
            let cli = self.parse(command, &params)?;
            let g = &cli.global;
            Ok(match cli.command {
                Command::Funnel(a) => views::funnel(&crate::cmd::analyses::funnel_report(g, &a)?),
                Command::Paths(a) => crate::cmd::analyses::paths_view(g, &a)?,
                Command::Retention(a) => views::retention(&crate::cmd::analyses::retention_report(g, &a)?),
                Command::Clv(a) => views::clv(&crate::cmd::analyses::clv_report(g, &a)?),
                Command::Attribution(a) => views::attribution(&crate::cmd::analyses::attribution_report(g, &a)?),
                Command::Personas(a) => views::personas(&crate::cmd::analyses::personas_report(g, &a)?.1),
                Command::Surveys(a) => views::surveys(&crate::cmd::analyses::surveys_report(g, &a)?),
                Command::Discovery(a) => views::discovery(&crate::cmd::analyses::discovery_report(g, &a)?),
                Command::Loyalty(a) => views::loyalty(&crate::cmd::analyses::loyalty_report(g, &a)?),
                _ => return Err(Problem::NotFound(format!("no page for {command}"))),
            })
        })?;
        // Annotations change without new data: drawn on every request.
        let mut view = (*view).clone();
        let notes: Vec<(String, String)> = wayfarer_store::annotations::list(&self.data)
            .map_err(anyhow::Error::from)?
            .into_iter()
            .map(|a| (a.at, a.text))
            .collect();
        views::annotate(&mut view, &notes);
        Ok(Some(view))
    }

    pub(super) fn analysis(
        &self,
        page: (&str, &str, &str, &str),
        params: &[(String, String)],
        export: bool,
    ) -> Result<PageOutput, Problem> {
        let (path, command, key, title) = page;
        let result = match self.view(command, params) {
            Ok(v) => Ok(v),
            Err(Problem::Query(e)) => Err(e),
            Err(other) => return Err(other),
        };
        if export {
            let view = match result {
                Ok(Some(v)) => v,
                Ok(None) => return Err(Problem::Query("nothing to export: the query has no steps yet".into())),
                Err(e) => return Err(Problem::Query(e)),
            };
            return self.export(key, &view, params);
        }
        let q = dashboard::query(&command_params(params));
        let sep = if q.is_empty() { "" } else { "&" };
        let exports = match &result {
            Ok(Some(_)) => vec![
                ("HTML report".to_string(), format!("{path}/export?{q}{sep}format=html")),
                ("XLSX (all tables)".to_string(), format!("{path}/export?{q}{sep}format=xlsx")),
            ],
            _ => Vec::new(),
        };
        let form = self.form(command, path, params);
        let (intro, empty) = intro(command);
        let page = AnalysisPage {
            chrome: Chrome { page: key.into(), title: title.into(), subtitle: String::new(), exports },
            intro: intro.into(),
            form,
            result,
            empty: (empty.0.into(), empty.1.into()),
            export_base: format!("{path}/export?{q}"),
            api: format!("/api/{command}?{q}"),
        };
        let mut out = PageOutput::html(dashboard::analysis_page(&page));
        if page.result.is_err() {
            out.status = 400;
        }
        Ok(out)
    }

    fn export(&self, key: &str, view: &View, params: &[(String, String)]) -> Result<PageOutput, Problem> {
        let format = param(params, "format").unwrap_or("html");
        let chart = param(params, "chart");
        let bytes = export::view_export(view, format, chart, &self.png).map_err(|e| Problem::Query(e.to_string()))?;
        let name = chart.map_or_else(|| key.to_string(), |c| format!("{key}-{c}"));
        Ok(file(&name, format, bytes))
    }

    /// A page's form, generated from the command's flag definitions — the
    /// same that parse its query and describe `/api/*` — so a page offers
    /// exactly what the command takes, with its defaults and allowed values.
    fn form(&self, command: &str, path: &str, params: &[(String, String)]) -> Form {
        let personas: Vec<String> =
            self.config().map(|(c, _)| c.personas.iter().map(|p| p.name.clone()).collect()).unwrap_or_default();
        let fields = crate::cmd::api::commands()
            .into_iter()
            .find(|c| c.name == command)
            .map(|c| c.params.iter().filter_map(|p| form_field(p, params, &personas)).collect())
            .unwrap_or_default();
        Form { action: path.into(), fields, submit: "Run".into(), event_names: self.event_names() }
    }
}
