//! `wayfarer triggers` and `wayfarer actions`: triggers read from
//! `DIR/triggers.toml` and checked against the data, evaluated into the
//! outbox (each occurrence once), their effect measured against the
//! held-out arm, and the outbox's webhooks delivered signed, with retries,
//! backoff and dead letters.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::json;
use wayfarer_core::triggers::{self, Limit, Trigger};
use wayfarer_engine::EngineError;
use wayfarer_engine::model::Model;
use wayfarer_engine::triggers::{self as engine, Compiled, Inputs, Outcome};
use wayfarer_store::Store;
use wayfarer_store::outbox::{Action, Kind, Outbox, Record, State};

use super::Out;
use crate::cli::{ActionsCommand, Global, TriggersCommand};

/// The triggers of a data directory (none when there is no file). Secrets
/// named by `secret_env` come from the process environment.
pub fn load(dir: &Path) -> Result<Vec<Trigger>> {
    parse_text(&read_text(dir)?)
}

/// The text of DIR/triggers.toml (empty when there is none).
fn read_text(dir: &Path) -> Result<String> {
    let path = dir.join(triggers::FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => bail!("{}: {e}", path.display()),
    }
}

/// Triggers from the text of a triggers file, templates included.
fn parse_text(text: &str) -> Result<Vec<Trigger>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let defs = triggers::parse(text, &|k| std::env::var(k).ok()).map_err(EngineError::InvalidQuery)?;
    for t in &defs {
        if let Some(e) = &t.email {
            for (key, text) in [("email.subject", &e.subject), ("email.body", &e.body)] {
                minijinja::Environment::new().template_from_str(text).map_err(|err| {
                    EngineError::InvalidQuery(format!("trigger '{}', key '{key}': {err}", t.def.name))
                })?;
            }
        }
    }
    Ok(defs)
}

/// One edit of DIR/triggers.toml, keeping its comments, layout and other
/// triggers.
#[derive(Debug, Clone, Copy)]
enum Edit<'a> {
    Paused(&'a str, bool),
    Save(Option<&'a str>, &'a str),
    Delete(&'a str),
}

/// Applies an edit, checks the result (its syntax, and every trigger
/// against the data) and writes it atomically; returns the trigger's name.
fn edit(store: &Store, model: &Model, edit: Edit<'_>) -> Result<String> {
    let dir = store.dir();
    let text = read_text(dir)?;
    let mut doc: toml_edit::DocumentMut =
        text.parse().map_err(|e: toml_edit::TomlError| anyhow::anyhow!("triggers.toml: {}", e.message()))?;
    let names: Vec<String> = doc
        .get("trigger")
        .and_then(|t| t.as_array_of_tables())
        .map(|a| a.iter().map(|t| t.get("name").and_then(|n| n.as_str()).unwrap_or("").to_string()).collect())
        .unwrap_or_default();
    let position = |name: &str| names.iter().position(|n| n.eq_ignore_ascii_case(name));
    let missing = |name: &str| -> anyhow::Error {
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        EngineError::NotFound(format!("no trigger '{name}'{}", wayfarer_core::suggest::hint(name, &known))).into()
    };
    let name = match edit {
        Edit::Paused(name, paused) => {
            let i = position(name).ok_or_else(|| missing(name))?;
            let table = doc["trigger"].as_array_of_tables_mut().and_then(|a| a.get_mut(i)).expect("listed");
            if paused {
                table["paused"] = toml_edit::value(true);
            } else {
                table.remove("paused");
            }
            names[i].clone()
        }
        Edit::Delete(name) => {
            let i = position(name).ok_or_else(|| missing(name))?;
            doc["trigger"].as_array_of_tables_mut().expect("listed").remove(i);
            names[i].clone()
        }
        Edit::Save(name, definition) => {
            let block: toml_edit::DocumentMut = definition.parse().map_err(|e: toml_edit::TomlError| {
                EngineError::InvalidQuery(format!("the definition: {}", e.message().trim()))
            })?;
            let invalid = |m: &str| anyhow::Error::from(EngineError::InvalidQuery(format!("the definition: {m}")));
            if let Some((key, _)) = block.iter().find(|(k, _)| *k != "trigger") {
                return Err(invalid(&format!(
                    "only a [[trigger]] block belongs here; '{key}' is a key of the file (edit triggers.toml for it)"
                )));
            }
            let mut tables =
                block.get("trigger").and_then(|t| t.as_array_of_tables()).cloned().ok_or_else(|| {
                    invalid("it needs a [[trigger]] line followed by the trigger's keys (name, when, …)")
                })?;
            if tables.len() != 1 {
                return Err(invalid(&format!("it holds {} [[trigger]] blocks; save one at a time", tables.len())));
            }
            let table = tables.remove(0);
            let new_name = table.get("name").and_then(|n| n.as_str()).unwrap_or("").trim().to_string();
            if new_name.is_empty() {
                return Err(invalid("the trigger needs a name (name = \"…\")"));
            }
            let replacing = match name.filter(|n| !n.trim().is_empty()) {
                Some(n) => Some(position(n).ok_or_else(|| missing(n))?),
                None => None,
            };
            if let Some(j) = position(&new_name)
                && Some(j) != replacing
            {
                return Err(invalid(&format!("there is already a trigger '{}'", names[j])));
            }
            let list = doc
                .entry("trigger")
                .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
                .as_array_of_tables_mut()
                .ok_or_else(|| anyhow::anyhow!("triggers.toml: 'trigger' is not a list of [[trigger]] tables"))?;
            match replacing {
                Some(i) => *list.get_mut(i).expect("listed") = table,
                None => list.push(table),
            }
            new_name
        }
    };
    let text = doc.to_string();
    let defs = parse_text(&text)?;
    engine::compile(store, model, &defs)?;
    wayfarer_store::manifest::write_atomic(dir, triggers::FILE, text.as_bytes())?;
    Ok(name)
}

/// The `[[trigger]]` block of the trigger called `name` as it is written in
/// DIR/triggers.toml (what the dashboard's editor starts from).
pub fn definition_text(dir: &Path, name: &str) -> Result<Option<String>> {
    let doc: toml_edit::DocumentMut =
        read_text(dir)?.parse().map_err(|e: toml_edit::TomlError| anyhow::anyhow!("triggers.toml: {}", e.message()))?;
    let Some(table) = doc.get("trigger").and_then(|t| t.as_array_of_tables()).and_then(|a| {
        a.iter().find(|t| t.get("name").and_then(|n| n.as_str()).is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }) else {
        return Ok(None);
    };
    let mut one = toml_edit::DocumentMut::new();
    let mut list = toml_edit::ArrayOfTables::new();
    list.push(table.clone());
    one.insert("trigger", toml_edit::Item::ArrayOfTables(list));
    Ok(Some(one.to_string().trim().to_string() + "\n"))
}

/// Renders an email's subject and body over the action's payload.
fn render_email(e: &triggers::Email, payload: &serde_json::Value) -> Result<(String, String), String> {
    let env = minijinja::Environment::new();
    let render = |text: &str| env.render_str(text, payload).map_err(|e| e.to_string());
    Ok((render(&e.subject)?.trim().to_string(), render(&e.body)?))
}

/// When each trigger was first evaluated (`DIR/outbox/triggers.json`):
/// without a `start`, a trigger acts on what happens from then on.
fn activations(dir: &Path, names: &[&str], now: i64, record: bool) -> Result<HashMap<String, i64>> {
    let sub = dir.join(wayfarer_store::outbox::DIR);
    let path = sub.join("triggers.json");
    let mut known: HashMap<String, i64> = match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        Err(_) => HashMap::new(),
    };
    let new: Vec<&&str> = names.iter().filter(|n| !known.contains_key(**n)).collect();
    if !new.is_empty() {
        for n in new {
            known.insert(n.to_string(), now);
        }
        if record {
            std::fs::create_dir_all(&sub)?;
            wayfarer_store::manifest::write_atomic(&sub, "triggers.json", &serde_json::to_vec_pretty(&known)?)?;
        }
    }
    Ok(known)
}

/// What the last evaluation saw (`DIR/outbox/evaluated.json`), so the next
/// one decides only what can have changed.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Evaluated {
    /// A hash of the triggers' definitions.
    defs: String,
    /// The newest store segment then.
    segment_through: Option<u64>,
    at_us: i64,
    /// Customers with occurrences still waiting for their due time.
    waiting: Vec<String>,
}

fn definitions_key(defs: &[Trigger]) -> String {
    let text = serde_json::to_string(&defs.iter().map(|t| &t.def).collect::<Vec<_>>()).unwrap_or_default();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

fn last_evaluation(dir: &Path) -> Result<Option<Evaluated>> {
    let path = dir.join(wayfarer_store::outbox::DIR).join("evaluated.json");
    Ok(std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()))
}

fn save_evaluation(dir: &Path, e: &Evaluated) -> Result<()> {
    let sub = dir.join(wayfarer_store::outbox::DIR);
    std::fs::create_dir_all(&sub)?;
    wayfarer_store::manifest::write_atomic(&sub, "evaluated.json", &serde_json::to_vec(e)?)?;
    Ok(())
}

/// Segment entries and exits by customer number, for triggers on them.
fn segment_changes(store: &Store, compiled: &[Compiled]) -> Result<engine::SegmentChanges> {
    use wayfarer_core::triggers::When;
    let wanted: HashSet<&str> = compiled
        .iter()
        .filter_map(|c| match &c.trigger.when {
            When::EntersSegment(g) | When::LeavesSegment(g) => Some(g.as_str()),
            _ => None,
        })
        .collect();
    let mut out = engine::SegmentChanges::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let ids = store.identity_shared()?;
    let mut graph = None;
    let canon = match ids.resolved() {
        Some(c) => c,
        None => graph.insert((*ids).clone()).canonical_map(),
    };
    for c in wayfarer_store::segment_defs::changes(store.dir(), None, None, i64::MIN)? {
        if !wanted.iter().any(|w| w.eq_ignore_ascii_case(&c.segment)) {
            continue;
        }
        let ident = ids.lookup(&format!("u:{}", c.customer)).or_else(|| ids.lookup(&format!("a:{}", c.customer)));
        let Some(customer) = ident.and_then(|i| canon.get(i as usize).copied()) else { continue };
        out.entry(customer).or_default().push((c.segment, c.change == "entered", c.at_us));
    }
    Ok(out)
}

/// What one evaluation recorded, per trigger.
#[derive(Debug, Default, Serialize)]
struct RunRow {
    name: String,
    occurrences: usize,
    due: usize,
    held_out: usize,
    waiting: usize,
    cancelled: usize,
    expired: usize,
    not_if: usize,
    limited: usize,
    /// Email triggers: customers without an address, and those who unsubscribed.
    no_address: usize,
    unsubscribed: usize,
    recorded_before: usize,
    recorded: usize,
}

/// Evaluates the triggers and records the due actions: what the CLI's
/// `triggers run` and the server after each commit do. `since` overrides
/// every trigger's start.
pub fn evaluate(
    store: &Store,
    model: &Model,
    defs: &[Trigger],
    since: Option<i64>,
    now: i64,
    record: bool,
) -> Result<Vec<RunRowPublic>> {
    let compiled = engine::compile(store, model, defs)?;
    let names: Vec<&str> = defs.iter().map(|t| t.def.name.as_str()).collect();
    let activated = activations(store.dir(), &names, now, record)?;
    let starts: Vec<i64> =
        defs.iter().map(|t| since.or(t.start).or_else(|| activated.get(&t.def.name).copied()).unwrap_or(now)).collect();
    let changes = segment_changes(store, &compiled)?;
    // Incremental unless back-filling or the definitions changed: only the
    // customers with new rows, with waiting occurrences, or with segment
    // changes since the last evaluation can have anything new.
    let key = definitions_key(defs);
    let last = if since.is_none() { last_evaluation(store.dir())?.filter(|e| e.defs == key) } else { None };
    let scope = match &last {
        Some(e) => {
            let mut who: Vec<u32> = store.customers_since(e.segment_through)?.iter().collect();
            let ids = store.identity_shared()?;
            let mut graph = None;
            let canon = match ids.resolved() {
                Some(c) => c,
                None => graph.insert((*ids).clone()).canonical_map(),
            };
            for w in &e.waiting {
                let ident = ids.lookup(&format!("u:{w}")).or_else(|| ids.lookup(&format!("a:{w}")));
                who.extend(ident.and_then(|i| canon.get(i as usize).copied()));
            }
            who.extend(changes.iter().filter(|(_, list)| list.iter().any(|(_, _, at)| *at > e.at_us)).map(|(c, _)| *c));
            store.clone().only_customers(std::sync::Arc::new(who.into_iter().collect()))
        }
        None => store.clone(),
    };
    let inputs = Inputs { compiled: &compiled, since: starts, now_us: now, segment_changes: changes, keep_all: false };
    let evaluation = engine::occurrences(&scope, model, &inputs)?;
    let found = &evaluation.found;
    if record {
        let mut waiting = evaluation.waiting.clone();
        // Customers waiting before and not decided again keep waiting.
        if let (Some(e), Some(decided)) = (&last, scope.customer_filter()) {
            let ids = store.identity_shared()?;
            let again: HashSet<&str> = decided.iter().map(|c| ids.external_id(c)).collect();
            waiting.extend(e.waiting.iter().filter(|w| !again.contains(w.as_str())).cloned());
        }
        waiting.sort_unstable();
        waiting.dedup();
        let through = store.manifest().segments.iter().map(|s| s.id).max();
        save_evaluation(store.dir(), &Evaluated { defs: key, segment_through: through, at_us: now, waiting })?;
    }
    let outbox = Outbox::new(store.dir());
    let before = outbox.load()?;
    let recorded: HashSet<&str> = before.iter().map(|a| a.id.as_str()).collect();
    // Each trigger's past actions per customer (for limits).
    let mut history: HashMap<(String, String), Vec<i64>> = HashMap::new();
    for a in &before {
        history.entry((a.trigger.clone(), a.customer.clone())).or_default().push(a.due_at_us);
    }
    let mut rows: Vec<RunRow> = defs
        .iter()
        .zip(&evaluation.counts)
        .map(|(t, c)| RunRow {
            name: t.def.name.clone(),
            occurrences: c.occurrences,
            waiting: c.waiting,
            cancelled: c.cancelled,
            expired: c.expired,
            not_if: c.not_if,
            limited: c.limited,
            ..RunRow::default()
        })
        .collect();
    // Survey and unsubscribe links are signed with the directory's secret.
    let secret = defs
        .iter()
        .any(|t| t.survey.is_some() || t.email.is_some() || t.referral.is_some())
        .then(|| wayfarer_store::tokens::secret(store.dir()))
        .transpose()?;
    let ids = store.identity_shared()?;
    let mut records = Vec::new();
    let mut codes = Vec::new();
    let mut order: Vec<&engine::Occurrence> = found.iter().collect();
    order.sort_by_key(|o| (o.trigger, o.due_at_us));
    for o in order {
        let t = &defs[o.trigger];
        let row = &mut rows[o.trigger];
        match o.outcome {
            Outcome::Due if recorded.contains(o.id.as_str()) => row.recorded_before += 1,
            Outcome::Due => {
                let past = history.entry((t.def.name.clone(), o.customer_id.clone())).or_default();
                let limited = match t.limit {
                    Limit::Once => !past.is_empty(),
                    Limit::Every(d) => past.iter().any(|&p| p > o.due_at_us - d && p <= o.due_at_us),
                };
                if limited {
                    row.limited += 1;
                    continue;
                }
                past.push(o.due_at_us);
                row.due += 1;
                let Built { kind, payload, code, skipped } = build_action(t, o, secret.as_ref(), &ids, now)?;
                row.recorded += 1;
                row.held_out += usize::from(kind == Kind::Holdout);
                match skipped {
                    Some(Skipped::Unsubscribed) => row.unsubscribed += 1,
                    Some(Skipped::NoAddress) => row.no_address += 1,
                    None => {}
                }
                codes.extend(code);
                records.push(Record::Due {
                    id: o.id.clone(),
                    trigger: t.def.name.clone(),
                    customer: o.customer_id.clone(),
                    kind,
                    occurred_at_us: o.at_us,
                    due_at_us: o.due_at_us,
                    created_at_us: now,
                    payload,
                });
            }
            // Only due occurrences are kept (the rest are in the counts).
            _ => {}
        }
    }
    if record {
        // The codes first: a link is live before the offer carrying it.
        wayfarer_store::referrals::register(store.dir(), &codes)?;
        outbox.append(&records)?;
    }
    Ok(rows.into_iter().map(RunRowPublic).collect())
}

/// Why an email action sends nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skipped {
    Unsubscribed,
    NoAddress,
}

/// An occurrence's action as it is recorded.
struct Built {
    kind: Kind,
    payload: serde_json::Value,
    /// A referral code to register first.
    code: Option<wayfarer_store::referrals::Code>,
    skipped: Option<Skipped>,
}

/// The action of a due occurrence: its kind (held out, webhook, email or
/// none) and payload, with the survey link, referral link and rendered
/// email a trigger asks for. What `triggers run` records and `triggers
/// preview` shows.
fn build_action(
    t: &Trigger,
    o: &engine::Occurrence,
    secret: Option<&wayfarer_store::tokens::Secret>,
    ids: &wayfarer_store::IdentityGraph,
    now: i64,
) -> Result<Built> {
    let signing = || secret.ok_or_else(|| anyhow::anyhow!("no signing secret"));
    let mut kind = if o.held_out {
        Kind::Holdout
    } else if t.webhook.is_some() {
        Kind::Webhook
    } else if t.email.is_some() {
        Kind::Email
    } else {
        Kind::None
    };
    let (mut payload, mut code, mut skipped) = (o.payload.clone(), None, None);
    if let Some(sv) = &t.survey {
        let expires = o.due_at_us.max(now) + sv.expires;
        let token = wayfarer_store::tokens::SurveyToken {
            c: o.customer_id.clone(),
            k: sv.kind.clone(),
            n: t.def.name.clone(),
            e: expires / 1_000_000,
            o: o.id.clone(),
            u: ids.is_user(o.customer),
        };
        let token = wayfarer_store::tokens::sign(signing()?, "s", &token);
        payload["survey"] = json!({
            "kind": sv.kind,
            "url": format!("{}/s/{token}", sv.public_url),
            "expires_at": wayfarer_core::time::format_rfc3339(expires),
        });
    }
    if let (Some(r), false) = (&t.referral, o.held_out) {
        let c = wayfarer_store::referrals::code_for(signing()?, &o.customer_id);
        payload["referral"] = json!({
            "code": c,
            "url": format!("{}/r/{c}", r.public_url),
            "discount_code": r.discount_code,
        });
        code = Some(wayfarer_store::referrals::Code {
            code: c,
            customer: o.customer_id.clone(),
            user: ids.is_user(o.customer),
            discount_code: r.discount_code.clone(),
        });
    }
    if let (Some(em), Kind::Email) = (&t.email, kind) {
        let address = payload["customer"]["traits"][&em.to].as_str().map(str::trim).unwrap_or("").to_string();
        if o.unsubscribed {
            skipped = Some(Skipped::Unsubscribed);
            kind = Kind::None;
            payload["skipped"] = json!("unsubscribed");
        } else if address.parse::<lettre::Address>().is_err() {
            skipped = Some(Skipped::NoAddress);
            kind = Kind::None;
            payload["skipped"] = json!(format!("no email address in traits.{}", em.to));
        } else {
            let token =
                wayfarer_store::tokens::UnsubscribeToken { c: o.customer_id.clone(), u: ids.is_user(o.customer) };
            let url = format!("{}/u/{}", em.public_url, wayfarer_store::tokens::sign(signing()?, "u", &token));
            payload["unsubscribe_url"] = json!(url);
            let (subject, text) = render_email(em, &payload)
                .map_err(|e| EngineError::InvalidQuery(format!("trigger '{}', key 'email': {e}", t.def.name)))?;
            payload["email"] = json!({"to": address, "subject": subject, "text": text});
        }
    }
    Ok(Built { kind, payload, code, skipped })
}

/// What a trigger would do for one customer (by user or anonymous id):
/// each occurrence with its due time and outcome, and for a due one the
/// action and the payload that would be sent. Records nothing.
pub fn preview(store: &Store, model: &Model, t: &Trigger, customer: &str, now: i64) -> Result<Vec<serde_json::Value>> {
    let ids = store.identity_shared()?;
    let ident = ids.lookup(&format!("u:{customer}")).or_else(|| ids.lookup(&format!("a:{customer}")));
    let mut graph = None;
    let canon = match ids.resolved() {
        Some(c) => c,
        None => graph.insert((*ids).clone()).canonical_map(),
    };
    let Some(number) = ident.and_then(|i| canon.get(i as usize).copied()) else {
        return Err(EngineError::NotFound(format!("no customer with user id or anonymous id '{customer}'")).into());
    };
    let compiled = engine::compile(store, model, std::slice::from_ref(t))?;
    let one = store.clone().only_customers(std::sync::Arc::new(std::iter::once(number).collect()));
    let inputs = Inputs {
        compiled: &compiled,
        since: vec![i64::MIN],
        now_us: now,
        segment_changes: segment_changes(store, &compiled)?,
        keep_all: true,
    };
    let found = engine::occurrences(&one, model, &inputs)?.found;
    let secret = wayfarer_store::tokens::secret(store.dir())?;
    let mut shown = Vec::new();
    for o in &found {
        let (action, payload) = if o.outcome == Outcome::Due {
            let b = build_action(t, o, Some(&secret), &ids, now)?;
            (Some(format!("{:?}", b.kind).to_lowercase()), b.payload)
        } else {
            (None, o.payload.clone())
        };
        shown.push(json!({
            "occurred_at": wayfarer_core::time::format_rfc3339(o.at_us),
            "due_at": wayfarer_core::time::format_rfc3339(o.due_at_us),
            "outcome": o.outcome,
            "held_out": o.held_out,
            "action": action,
            "payload": payload,
        }));
    }
    Ok(shown)
}

/// A row of [`evaluate`]'s summary.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct RunRowPublic(RunRow);

pub fn run(g: &Global, cmd: TriggersCommand, out: &mut Out) -> Result<()> {
    let snap = super::Snapshot::of(g)?;
    let model = snap.model()?;
    let store = &snap.store;
    let dir = store.dir().to_path_buf();
    // Edits first: they may mend a file that does not load.
    let edited = match &cmd {
        TriggersCommand::Pause { name, json } => {
            Some((edit(store, &model, Edit::Paused(name, true))?, "paused", *json))
        }
        TriggersCommand::Resume { name, json } => {
            Some((edit(store, &model, Edit::Paused(name, false))?, "resumed", *json))
        }
        TriggersCommand::Save { name, definition, json } => {
            Some((edit(store, &model, Edit::Save(name.as_deref(), definition))?, "saved", *json))
        }
        TriggersCommand::Delete { name, json } => Some((edit(store, &model, Edit::Delete(name))?, "deleted", *json)),
        _ => None,
    };
    if let Some((name, what, json)) = edited {
        if json {
            return out.json(&json!({"trigger": name, what: true}));
        }
        say!("Trigger '{name}' {what} in {}.", dir.join(triggers::FILE).display());
        return Ok(());
    }
    let defs = load(&dir)?;
    let now = super::now_micros();
    match cmd {
        TriggersCommand::Check { json } => {
            engine::compile(store, &model, &defs)?;
            let listed: Vec<serde_json::Value> = defs
                .iter()
                .map(|t| {
                    json!({
                        "name": t.def.name,
                        "when": t.def.when,
                        "wait": t.def.wait,
                        "holdout": t.def.holdout,
                        "action": describe(t),
                        "signed": t.webhook.as_ref().map(|w| w.secret.is_some()),
                    })
                })
                .collect();
            if json {
                return out.json(&listed);
            }
            if defs.is_empty() {
                say!(
                    "No triggers: write them in {} (the README's \"Triggers and actions\").",
                    dir.join(triggers::FILE).display()
                );
            }
            for t in &defs {
                say!("ok  {}: {}; {}", t.def.name, t.def.when, describe(t));
            }
            Ok(())
        }
        TriggersCommand::List { json } => {
            let actions = Outbox::new(&dir).load()?;
            let rows: Vec<serde_json::Value> = defs
                .iter()
                .map(|t| {
                    let mine: Vec<&Action> = actions.iter().filter(|a| a.trigger == t.def.name).collect();
                    let count = |f: &dyn Fn(&&Action) -> bool| mine.iter().filter(|a| f(a)).count();
                    json!({
                        "name": t.def.name,
                        "paused": t.def.paused,
                        "recorded": mine.len(),
                        "acted": count(&|a| a.kind != Kind::Holdout),
                        "held_out": count(&|a| a.kind == Kind::Holdout),
                        "pending": count(&|a| a.state == State::Pending),
                        "delivered": count(&|a| a.state == State::Delivered),
                        "dead": count(&|a| a.state == State::Dead),
                    })
                })
                .collect();
            if json {
                return out.json(&rows);
            }
            say!(
                "{:<32} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6}",
                "trigger",
                "recorded",
                "acted",
                "held",
                "pending",
                "delivered",
                "dead"
            );
            for r in &rows {
                let n = |k: &str| r[k].as_u64().unwrap_or(0);
                say!(
                    "{:<32} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6}{}",
                    r["name"].as_str().unwrap_or(""),
                    n("recorded"),
                    n("acted"),
                    n("held_out"),
                    n("pending"),
                    n("delivered"),
                    n("dead"),
                    if r["paused"] == true { "  (paused)" } else { "" }
                );
            }
            Ok(())
        }
        TriggersCommand::Run { since, dry_run, json } => {
            let since = since
                .as_deref()
                .map(|s| wayfarer_core::time::parse_date_arg(s).map_err(|e| anyhow::anyhow!("--since: {e}")))
                .transpose()?;
            let rows = evaluate(store, &model, &defs, since, now, !dry_run)?;
            if json {
                return out.json(&json!({ "triggers": rows, "dry_run": dry_run }));
            }
            for RunRowPublic(r) in &rows {
                say!(
                    "{}: {} occurrences; {} recorded now ({} held out), {} before; {} waiting, {} cancelled, {} expired, {} not if, {} limited",
                    r.name,
                    r.occurrences,
                    r.recorded,
                    r.held_out,
                    r.recorded_before,
                    r.waiting,
                    r.cancelled,
                    r.expired,
                    r.not_if,
                    r.limited
                );
            }
            if dry_run {
                say!("(dry run: nothing recorded)");
            }
            Ok(())
        }
        TriggersCommand::Preview { name, customer, json } => {
            let t = named(&defs, &name)?;
            let shown = preview(store, &model, t, &customer, now)?;
            if json {
                return out.json(&shown);
            }
            if shown.is_empty() {
                say!("'{}' never starts for {customer} in the data ({}).", t.def.name, t.def.when);
            }
            for s in &shown {
                say!(
                    "{} → due {}: {}{}",
                    s["occurred_at"].as_str().unwrap_or(""),
                    s["due_at"].as_str().unwrap_or(""),
                    s["outcome"].as_str().unwrap_or(""),
                    s["action"].as_str().map(|a| format!(", would record a {a} action")).unwrap_or_default()
                );
                if s["action"].is_string() {
                    say!("{}", serde_json::to_string_pretty(&s["payload"]).unwrap_or_default());
                }
            }
            Ok(())
        }
        TriggersCommand::Pause { .. }
        | TriggersCommand::Resume { .. }
        | TriggersCommand::Save { .. }
        | TriggersCommand::Delete { .. } => unreachable!("edits return above"),
        TriggersCommand::Report { name, since, until, json } => {
            let t = named(&defs, &name)?;
            let due = since.unwrap_or(i64::MIN)..=until.unwrap_or(i64::MAX);
            let report = report(store, &model, t, due)?;
            if json {
                return out.json(&report);
            }
            report_text(t, &report)
        }
    }
}

/// What a trigger does, in words.
pub fn describe(t: &Trigger) -> String {
    let action = match (&t.webhook, &t.email) {
        (Some(w), _) => format!("webhook {}{}", w.url, if w.secret.is_some() { "" } else { " (unsigned: no secret)" }),
        (_, Some(e)) => format!("email to traits.{} via {}", e.to, e.smtp.host),
        _ => "no action (measured only)".to_string(),
    };
    let extras: Vec<&str> = [(t.survey.is_some(), "a survey link"), (t.referral.is_some(), "a referral offer")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
    if extras.is_empty() { action } else { format!("{action} with {}", extras.join(" and ")) }
}

/// The trigger of this name (case aside), or an error naming the closest.
fn named<'t>(defs: &'t [Trigger], name: &str) -> Result<&'t Trigger> {
    defs.iter().find(|t| t.def.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
        let names: Vec<&str> = defs.iter().map(|t| t.def.name.as_str()).collect();
        EngineError::NotFound(format!("no trigger '{name}'{}", wayfarer_core::suggest::hint(name, &names))).into()
    })
}

fn report_text(t: &Trigger, report: &Report) -> Result<()> {
    let e = &report.effect;
    let pct = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{:.1} %", v * 100.0));
    say!("Trigger '{}': goal {} within {}", t.def.name, report.goal.as_deref().unwrap_or("(none)"), report.goal_within);
    say!("  acted on   {:>7}  reached the goal {:>7}  ({})", e.acted, e.acted_goal, pct(e.rate_acted));
    say!("  held out   {:>7}  reached the goal {:>7}  ({})", e.held_out, e.held_out_goal, pct(e.rate_held_out));
    match (e.difference, e.difference_ci, e.p_value) {
        (Some(d), Some((lo, hi)), Some(p)) => {
            say!(
                "  difference {:+.1} points (95 % CI {:+.1} to {:+.1}), p = {p:.3}",
                d * 100.0,
                lo * 100.0,
                hi * 100.0
            );
            if let (Some(l), Some((a, b))) = (e.relative_lift, e.relative_lift_ci) {
                say!("  relative lift {:+.1} % (95 % CI {:+.1} to {:+.1} %)", l * 100.0, a * 100.0, b * 100.0);
            }
        }
        _ => say!("  no comparison yet: both arms need customers (holdout = {})", t.def.holdout),
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct Report {
    trigger: String,
    goal: Option<String>,
    goal_within: String,
    recorded: usize,
    effect: engine::Effect,
}

/// The measured effects of triggers with a goal (`None` for one without),
/// in one pass over the data: what the Triggers page shows.
pub fn effects(store: &Store, model: &Model, defs: &[Trigger]) -> Result<Vec<Option<engine::Effect>>> {
    let measured: Vec<Trigger> = defs.iter().filter(|t| t.goal.is_some()).cloned().collect();
    let mut reports = reports(store, model, &measured, i64::MIN..=i64::MAX)?.into_iter();
    Ok(defs.iter().map(|t| t.goal.as_ref().and_then(|_| reports.next()).map(|r| r.effect)).collect())
}

/// A trigger's effect: its recorded occurrences (acted on, held out) due
/// in `due`, each with whether the goal followed, from the data as it is now.
fn report(store: &Store, model: &Model, t: &Trigger, due: std::ops::RangeInclusive<i64>) -> Result<Report> {
    if t.goal.is_none() {
        bail!("trigger '{}' has no goal: add goal = \"EVENT\" (or \"stage 'S'\") to measure it", t.def.name);
    }
    let mut r = reports(store, model, std::slice::from_ref(t), due)?;
    Ok(r.remove(0))
}

/// The reports of triggers that have a goal, from one evaluation.
fn reports(store: &Store, model: &Model, defs: &[Trigger], due: std::ops::RangeInclusive<i64>) -> Result<Vec<Report>> {
    if defs.is_empty() {
        return Ok(Vec::new());
    }
    let compiled = engine::compile(store, model, defs)?;
    let index: HashMap<&str, usize> = defs.iter().enumerate().map(|(i, t)| (t.def.name.as_str(), i)).collect();
    let actions: Vec<_> = Outbox::new(store.dir())
        .load()?
        .into_iter()
        .filter(|a| index.contains_key(a.trigger.as_str()) && due.contains(&a.due_at_us))
        .collect();
    let recorded: Vec<engine::Recorded> = actions
        .iter()
        .map(|a| engine::Recorded {
            trigger: index[a.trigger.as_str()],
            customer: a.customer.clone(),
            occurred_at_us: a.occurred_at_us,
            due_at_us: a.due_at_us,
        })
        .collect();
    let reached = engine::goals_reached(store, model, &compiled, &recorded)?;
    Ok(defs
        .iter()
        .map(|t| {
            let (mut acted, mut acted_goal, mut held, mut held_goal, mut recorded) = (0, 0, 0, 0, 0);
            for (a, &reached) in actions.iter().zip(&reached).filter(|(a, _)| a.trigger == t.def.name) {
                recorded += 1;
                if a.kind == Kind::Holdout {
                    held += 1;
                    held_goal += u64::from(reached);
                } else {
                    acted += 1;
                    acted_goal += u64::from(reached);
                }
            }
            Report {
                trigger: t.def.name.clone(),
                goal: t.def.goal.clone(),
                goal_within: wayfarer_core::time::format_duration_exact(t.goal_within),
                recorded,
                effect: engine::effect(acted, acted_goal, held, held_goal),
            }
        })
        .collect())
}

pub fn actions(g: &Global, cmd: ActionsCommand, out: &mut Out) -> Result<()> {
    let dir = super::data_dir(g, super::DEFAULT_DATA);
    let outbox = Outbox::new(&dir);
    let now = super::now_micros();
    match cmd {
        ActionsCommand::Log { trigger, customer, state, limit, json } => {
            let mut actions = outbox.load()?;
            actions.retain(|a| {
                trigger.as_deref().is_none_or(|t| a.trigger.eq_ignore_ascii_case(t))
                    && customer.as_deref().is_none_or(|c| a.customer == c)
                    && state.as_deref().is_none_or(|s| serde_json::to_value(a.state).is_ok_and(|v| v == s))
            });
            if json {
                return out.json(&actions);
            }
            if actions.is_empty() {
                say!(
                    "No actions recorded{}.",
                    if trigger.is_some() || customer.is_some() || state.is_some() { " that match" } else { "" }
                );
            }
            for a in actions.iter().rev().take(limit) {
                let state =
                    serde_json::to_value(a.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                say!(
                    "{}  {:<9} {:<9} {}  {}  attempts {}{}",
                    wayfarer_core::time::format_rfc3339(a.due_at_us),
                    state,
                    format!("{:?}", a.kind).to_lowercase(),
                    a.trigger,
                    a.customer,
                    a.attempts,
                    a.last_error.as_deref().map(|e| format!("  last error: {e}")).unwrap_or_default()
                );
            }
            Ok(())
        }
        ActionsCommand::Deliver { json } => {
            let defs = load(&dir)?;
            let done = deliver(&outbox, &defs, wayfarer_core::time::Clock::wall())?;
            if json {
                return out.json(&done);
            }
            say!(
                "{} delivered, {} failed (to be retried), {} to the dead letters.",
                done.delivered,
                done.failed,
                done.dead
            );
            Ok(())
        }
        ActionsCommand::Retry { id, json } => {
            let dead: Vec<Action> = outbox
                .load()?
                .into_iter()
                .filter(|a| a.state == State::Dead && id.as_deref().is_none_or(|i| a.id == i))
                .collect();
            if let Some(i) = &id
                && dead.is_empty()
            {
                bail!("no dead letter with id '{i}' (`wayfarer actions log --state dead` lists them)");
            }
            let records: Vec<Record> = dead.iter().map(|a| Record::Retry { id: a.id.clone(), at_us: now }).collect();
            outbox.append(&records)?;
            if json {
                return out.json(&json!({ "retried": records.len() }));
            }
            say!("{} dead letters back to be delivered (`wayfarer actions deliver`).", records.len());
            Ok(())
        }
    }
}

/// What one delivery round did.
#[derive(Debug, Default, Serialize)]
pub struct Delivered {
    pub delivered: usize,
    pub failed: usize,
    pub dead: usize,
}

/// Delivers every webhook action that is due, one deliverer at a time:
/// each outcome is recorded (fsync) as soon as it is known, so a kill -9
/// mid-round re-sends at most the one in flight, with its idempotency key.
pub fn deliver(outbox: &Outbox, defs: &[Trigger], clock: wayfarer_core::time::Clock) -> Result<Delivered> {
    let _one = outbox.lock("deliver")?;
    let now = clock.now_us();
    let mut done = Delivered::default();
    let by_name: HashMap<&str, &Trigger> = defs.iter().map(|t| (t.def.name.as_str(), t)).collect();
    for a in outbox.load()? {
        if !matches!(a.kind, Kind::Webhook | Kind::Email) || a.state != State::Pending || a.next_at_us > now {
            continue;
        }
        let Some(t) = by_name.get(a.trigger.as_str()) else { continue };
        let (sent, max_attempts, base) = match (a.kind, &t.webhook, &t.email) {
            (Kind::Webhook, Some(hook), _) => (post(hook, &a), hook.max_attempts, hook.backoff),
            (Kind::Email, _, Some(email)) => (send_email(&email.smtp, &a), EMAIL_ATTEMPTS, EMAIL_BACKOFF),
            _ => continue,
        };
        let at = clock.now_us();
        let record = match sent {
            Ok(status) => {
                done.delivered += 1;
                Record::Delivered { id: a.id.clone(), at_us: at, status }
            }
            Err(error) if a.attempts + 1 >= max_attempts || error.starts_with(PERMANENT) => {
                done.dead += 1;
                Record::Dead { id: a.id.clone(), at_us: at, error }
            }
            Err(error) => {
                done.failed += 1;
                Record::Failed {
                    id: a.id.clone(),
                    at_us: at,
                    error,
                    next_at_us: at + backoff(base, &a.id, a.attempts + 1),
                }
            }
        };
        outbox.append(&[record])?;
    }
    Ok(done)
}

/// The delay before attempt `n + 1` after `n` failed: the base doubled
/// per failure, times a jitter from 0.5 to 1.5 (a hash of the action and
/// attempt, so retries of many actions spread out), at most six hours.
fn backoff(first: i64, id: &str, failed: u32) -> i64 {
    let h = xxhash_rust::xxh3::xxh3_64(format!("{id}\0{failed}").as_bytes());
    let jitter = 0.5 + h as f64 / u64::MAX as f64;
    let base = first as f64 * 2f64.powi(failed.saturating_sub(1).min(30) as i32);
    (base * jitter).min(6.0 * 3600.0 * 1e6) as i64
}

/// Attempts and first retry delay of an email.
const EMAIL_ATTEMPTS: u32 = 8;
const EMAIL_BACKOFF: i64 = 60 * 1_000_000;
/// How a failure no retry can fix starts (the mail server refused for good).
const PERMANENT: &str = "permanent: ";

/// Sends an email action over SMTP: the rendered subject and text, with
/// `List-Unsubscribe` (and one-click `List-Unsubscribe-Post`, RFC 8058).
fn send_email(smtp: &triggers::Smtp, a: &Action) -> Result<u16, String> {
    use lettre::message::header::{ContentType, HeaderName, HeaderValue};
    use lettre::{Message, SmtpTransport, Transport};
    let e = &a.payload["email"];
    let field = |k: &str| e[k].as_str().unwrap_or("").to_string();
    let from: lettre::message::Mailbox = smtp.from.parse().map_err(|e| format!("{PERMANENT}from: {e}"))?;
    let to: lettre::message::Mailbox = field("to").parse().map_err(|e| format!("{PERMANENT}to: {e}"))?;
    let header = |name: &'static str, value: String| HeaderValue::new(HeaderName::new_from_ascii_str(name), value);
    let unsubscribe = a.payload["unsubscribe_url"].as_str().unwrap_or("").to_string();
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(field("subject"))
        .header(ContentType::TEXT_PLAIN)
        .raw_header(header("List-Unsubscribe", format!("<{unsubscribe}>")))
        .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()))
        .raw_header(header("X-Wayfarer-Action", a.id.clone()))
        .body(field("text"))
        .map_err(|e| format!("{PERMANENT}{e}"))?;
    let builder = match smtp.security.as_str() {
        "tls" => SmtpTransport::relay(&smtp.host).map_err(|e| e.to_string())?,
        "starttls" => SmtpTransport::starttls_relay(&smtp.host).map_err(|e| e.to_string())?,
        _ => SmtpTransport::builder_dangerous(&smtp.host),
    };
    let mut builder = builder.port(smtp.port).timeout(Some(std::time::Duration::from_micros(smtp.timeout as u64)));
    if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(u.clone(), p.clone()));
    }
    match builder.build().send(&message) {
        Ok(r) => Ok(r.code().to_string().parse().unwrap_or(250)),
        Err(e) if e.is_permanent() => Err(format!("{PERMANENT}{e}")),
        Err(e) => Err(e.to_string()),
    }
}

/// `Wayfarer-Signature: t=UNIX,v1=HEX` of HMAC-SHA256(secret, "t.body").
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// POSTs an action's payload; the status of a 2xx, else the reason.
fn post(hook: &triggers::Webhook, a: &Action) -> Result<u16, String> {
    let body = serde_json::to_vec(&a.payload).map_err(|e| e.to_string())?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_micros(hook.timeout as u64)))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent("Wayfarer-Webhooks/1")
        .build()
        .into();
    let mut req = agent
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", &a.id)
        .header("Wayfarer-Trigger", &a.trigger);
    if let Some(secret) = &hook.secret {
        req = req.header("Wayfarer-Signature", &signature(secret, super::now_micros() / 1_000_000, &body));
    }
    match req.send(&body[..]) {
        Ok(resp) if resp.status().is_success() => Ok(resp.status().as_u16()),
        Ok(resp) => Err(format!("HTTP {}", resp.status().as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

pub fn referrals(g: &Global, json: bool, out: &mut Out) -> Result<()> {
    let snap = super::Snapshot::of(g)?;
    let model = snap.model()?;
    let codes = wayfarer_store::referrals::load(snap.store.dir())?;
    let report = wayfarer_engine::referrals::report(&snap.store, &model, &codes)?;
    if json {
        return out.json(&report);
    }
    if report.referrers.is_empty() {
        say!(
            "No referral codes yet: a trigger with [trigger.referral] issues them (the README's \"Triggers and actions\")."
        );
        return Ok(());
    }
    say!("{:<24} {:<10} {:>7} {:>11} {:>12}", "referrer", "code", "clicks", "conversions", "revenue");
    for r in &report.referrers {
        say!("{:<24} {:<10} {:>7} {:>11} {:>12.2}", r.customer, r.code, r.clicks, r.conversions, r.revenue);
    }
    for (code, n) in &report.discount_redemptions {
        say!("discount {code}: redeemed {n} times (Coupon Applied)");
    }
    Ok(())
}
