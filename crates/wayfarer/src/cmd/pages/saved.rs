//! The Segments pages: the list with sizes and last week's changes, the
//! create form, one segment with its members, and the member and audience
//! downloads. Changes go through the server's form handlers
//! (`POST /segments`, admin token); the pages only read.

use wayfarer_engine::membership;
use wayfarer_render::dashboard::{SegmentForm, SegmentPage, SegmentRow, SegmentsPage};
use wayfarer_store::segment_defs;

use super::*;
use crate::cli::AudiencePlatform;

/// Members shown in a segment's table (the CSV has them all).
const MEMBERS_SHOWN: usize = 200;
/// The window of the list's entries and exits.
const WEEK_US: i64 = 7 * 86_400 * 1_000_000;

impl Dash {
    pub(super) fn segments(&self, params: &[(String, String)]) -> Result<PageOutput, Problem> {
        let (config, _) = self.config()?;
        let store = self.store()?;
        let model = Model::compile(&config, &store).map_err(anyhow::Error::from)?;
        let form = SegmentForm {
            name: param(params, "name").unwrap_or("").to_string(),
            condition: param(params, "condition").unwrap_or("").to_string(),
            description: param(params, "description").unwrap_or("").to_string(),
            error: param(params, "error").map(str::to_string),
        };
        let since = super::super::now_micros() - WEEK_US;
        let listed = (|| -> anyhow::Result<(Vec<SegmentRow>, usize)> {
            let defs = segment_defs::list(&self.data)?;
            let segs = membership::compile_all(&store, &defs, &model)?;
            let found = self.compute(|| membership::members_count(&store, &model, &Scope::default(), &segs))?;
            let changes = segment_defs::changes(&self.data, None, None, since)?;
            let rows = defs
                .into_iter()
                .zip(found.1)
                .map(|(def, customers)| {
                    let mine = changes.iter().filter(|c| c.segment == def.name);
                    let entered = mine.clone().filter(|c| c.change == "entered").count();
                    let left = mine.filter(|c| c.change == "left").count();
                    SegmentRow { def, customers, entered, left }
                })
                .collect();
            Ok((rows, found.0))
        })();
        let (rows, customers) = match listed {
            Ok((rows, n)) => (Ok(rows), n),
            Err(e) => (Err(format!("{e:#}")), 0),
        };
        let chrome = Chrome { page: "segments".into(), title: "Segments".into(), ..Chrome::default() };
        let page = SegmentsPage { chrome, rows: rows.as_deref().map_err(String::clone), customers, form };
        Ok(PageOutput::html(dashboard::segments_page(&page)))
    }

    /// `/triggers`: the triggers with their counts and effects (one pass
    /// over the data for all), the editor (`?edit=NAME`, or `?new=1`), a preview for one customer (`?preview=NAME&customer=ID`), and
    /// the latest actions. Changes go through the server's form handlers.
    pub(super) fn triggers(&self, params: &[(String, String)]) -> Result<PageOutput, Problem> {
        use wayfarer_render::dashboard::{
            ActionRow, PreviewRow, TriggerEditor, TriggerPreview, TriggerRow, TriggersPage,
        };
        use wayfarer_store::outbox::{Kind, Outbox, State};
        let (config, _) = self.config()?;
        let store = self.store()?;
        let model = Model::compile(&config, &store).map_err(anyhow::Error::from)?;
        let actions = Outbox::new(&self.data).load().map_err(anyhow::Error::from)?;
        let now = super::super::now_micros();
        let defs = super::super::triggers::load(&self.data);
        let rows = (|| -> anyhow::Result<Vec<TriggerRow>> {
            let defs = defs.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let effects = self.compute(|| super::super::triggers::effects(&store, &model, defs))?;
            Ok(defs
                .iter()
                .zip(effects)
                .map(|(t, effect)| {
                    let mine: Vec<_> = actions.iter().filter(|a| a.trigger == t.def.name).collect();
                    let count =
                        |f: &dyn Fn(&&&wayfarer_store::outbox::Action) -> bool| mine.iter().filter(|a| f(a)).count();
                    let effect = effect.and_then(|r| {
                        r.rate_acted.zip(r.rate_held_out).zip(r.difference_ci).zip(r.p_value).map(
                            |(((a, h), interval), p_value)| wayfarer_render::dashboard::Measured {
                                rate_acted: a,
                                rate_held_out: h,
                                difference: a - h,
                                interval,
                                p_value,
                            },
                        )
                    });
                    TriggerRow {
                        name: t.def.name.clone(),
                        when: t.def.when.clone(),
                        action: super::super::triggers::describe(t),
                        paused: t.def.paused,
                        recorded: mine.len(),
                        acted: count(&|a| a.kind != Kind::Holdout),
                        held_out: count(&|a| a.kind == Kind::Holdout),
                        pending: count(&|a| a.state == State::Pending),
                        delivered: count(&|a| a.state == State::Delivered),
                        dead: count(&|a| a.state == State::Dead),
                        goal: t.def.goal.clone(),
                        effect,
                    }
                })
                .collect())
        })();
        let editor = param(params, "edit").or(param(params, "new").map(|_| "")).map(|original| {
            let definition = match param(params, "definition") {
                Some(d) => d.to_string(),
                None if original.is_empty() => wayfarer_render::dashboard::NEW_TRIGGER.to_string(),
                None => super::super::triggers::definition_text(&self.data, original)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| format!("# no trigger '{original}' in triggers.toml\n")),
            };
            TriggerEditor {
                original: original.to_string(),
                definition,
                error: param(params, "error").map(str::to_string),
            }
        });
        let preview = match (param(params, "preview"), param(params, "customer")) {
            (Some(name), Some(customer)) => {
                let rows = (|| -> anyhow::Result<Vec<PreviewRow>> {
                    let defs = defs.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
                    let t = defs.iter().find(|t| t.def.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
                        let names: Vec<&str> = defs.iter().map(|t| t.def.name.as_str()).collect();
                        anyhow::anyhow!("no trigger '{name}'{}", wayfarer_core::suggest::hint(name, &names))
                    })?;
                    let shown =
                        self.compute(|| super::super::triggers::preview(&store, &model, t, customer.trim(), now))?;
                    Ok(shown
                        .iter()
                        .map(|s| PreviewRow {
                            occurred_at: s["occurred_at"].as_str().unwrap_or("").to_string(),
                            due_at: s["due_at"].as_str().unwrap_or("").to_string(),
                            outcome: s["outcome"].as_str().unwrap_or("").to_string(),
                            action: s["action"].as_str().map(str::to_string),
                            payload: serde_json::to_string_pretty(&s["payload"]).unwrap_or_default(),
                        })
                        .collect())
                })();
                Some(TriggerPreview {
                    trigger: name.to_string(),
                    customer: customer.to_string(),
                    rows: rows.map_err(|e| format!("{e:#}")),
                })
            }
            _ => None,
        };
        let notice = param(params, "saved").map(|n| format!("Trigger '{n}' saved."));
        let notice = notice.or_else(|| param(params, "paused").map(|n| format!("Trigger '{n}' paused.")));
        let notice = notice.or_else(|| param(params, "resumed").map(|n| format!("Trigger '{n}' resumed.")));
        let problem = param(params, "error_notice").map(str::to_string);
        let latest = actions
            .iter()
            .rev()
            .take(50)
            .map(|a| ActionRow {
                due: wayfarer_core::time::format_rfc3339(a.due_at_us),
                trigger: a.trigger.clone(),
                customer: a.customer.clone(),
                kind: format!("{:?}", a.kind).to_lowercase(),
                state: format!("{:?}", a.state).to_lowercase(),
                attempts: a.attempts,
                error: a.last_error.clone(),
            })
            .collect();
        let chrome = Chrome { page: "triggers".into(), title: "Triggers".into(), ..Chrome::default() };
        let page = TriggersPage {
            chrome,
            rows: rows.map_err(|e| format!("{e:#}")),
            actions: latest,
            editor,
            preview,
            notice,
            problem,
        };
        Ok(PageOutput::html(dashboard::triggers_page(&page)))
    }

    /// `/segments/NAME`, `/segments/NAME/members.csv`, `/segments/NAME/audience?platform=…`.
    pub(super) fn segment(&self, rest: &str, params: &[(String, String)]) -> Result<PageOutput, Problem> {
        let (name, download) = match rest.rsplit_once('/') {
            Some((n, d)) => (n, Some(d)),
            None => (rest, None),
        };
        let name = wayfarer_core::url::percent_decode(name, false);
        let Some(def) = segment_defs::get(&self.data, &name).map_err(anyhow::Error::from)? else {
            return Err(Problem::NotFound(format!("There is no segment '{name}'.")));
        };
        let (config, _) = self.config()?;
        let store = self.store()?;
        let model = Model::compile(&config, &store).map_err(anyhow::Error::from)?;
        let seg = membership::compile(&store, &def.name, &def.condition, &model).map_err(anyhow::Error::from)?;
        let all = self
            .compute(|| membership::members(&store, &model, &Scope::default(), std::slice::from_ref(&seg)))
            .map_err(anyhow::Error::from)?;
        let members = all.members.into_iter().next().unwrap_or_default();
        let file = |bytes: Vec<u8>, what: &str| PageOutput {
            status: 200,
            content_type: "text/csv; charset=utf-8".into(),
            body: bytes,
            filename: Some(format!("{}-{what}.csv", def.name.replace(' ', "-"))),
        };
        match download {
            None => {}
            Some("members.csv") => return Ok(file(super::super::segments::members_csv(&members)?, "members")),
            Some("audience") => {
                let platform = match param(params, "platform").unwrap_or("google") {
                    "google" => AudiencePlatform::Google,
                    "meta" => AudiencePlatform::Meta,
                    other => return Err(Problem::Query(format!("platform: '{other}' is neither google nor meta"))),
                };
                let (bytes, _) = super::super::segments::audience_csv(&members, platform)?;
                return Ok(file(bytes, &format!("audience-{}", param(params, "platform").unwrap_or("google"))));
            }
            Some(other) => return Err(Problem::NotFound(format!("There is no page '{other}' of a segment."))),
        }
        let mut by_stage: Vec<(String, usize)> = model.stage_names.iter().map(|s| (s.clone(), 0)).collect();
        for m in &members {
            if let Some(i) = m.stage.as_ref().and_then(|s| model.stage_names.iter().position(|x| x == s)) {
                by_stage[i].1 += 1;
            }
        }
        by_stage.retain(|(_, n)| *n > 0);
        let set: wayfarer_store::CustomerSet = members.iter().map(|m| m.customer).collect();
        let top_items =
            self.compute(|| wayfarer_engine::recommend::top_for_group(&store, &model, &set, 10)).unwrap_or_default();
        let chrome = Chrome { page: "segments".into(), title: format!("Segment {}", def.name), ..Chrome::default() };
        let page = SegmentPage {
            chrome,
            def: &def,
            customers: members.len(),
            share: members.len() as f64 / all.customers.max(1) as f64,
            by_stage: &by_stage,
            members: &members,
            shown: MEMBERS_SHOWN,
            top_items: &top_items,
        };
        Ok(PageOutput::html(dashboard::segment_page(&page)))
    }
}
