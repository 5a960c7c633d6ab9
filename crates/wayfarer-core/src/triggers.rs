//! Trigger definitions (DESIGN §10): `DIR/triggers.toml`, read and checked
//! here for what needs no data (keys, durations, shares, the `when`
//! grammar, actions); the engine checks conditions, patterns, stages and
//! segments against the data.
//!
//! ```toml
//! [[trigger]]
//! name = "CSAT after first order"
//! when = "event Order Completed[nth_purchase = 1]"   # or: enters stage 'Purchase',
//!                                                     # enters segment 'X', leaves segment 'X'
//! wait = "3d"                 # act this long after (default: at once)
//! until = "Order Delivered"   # or sooner, at the first such event (wait is then the most)
//! unless = "Order Refunded"   # not if this happens first
//! if = "traits.email"         # checked when the action is due
//! holdout = 0.1               # share kept as a control (by a hash of trigger and customer)
//! limit = "once"              # or a duration: at most once per that long
//! goal = "Survey Responded"   # or "stage 'Advocacy'"
//! goal_within = "14d"
//!
//! [trigger.webhook]
//! url = "https://hooks.example.com/wayfarer"
//! secret_env = "WAYFARER_HOOK_SECRET"   # or secret = "…"
//! ```

use serde::{Deserialize, Serialize};

use crate::time::parse_duration;

/// The file, in the data directory.
pub const FILE: &str = "triggers.toml";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggersFile {
    /// The address customers reach the server at (hosted survey and
    /// unsubscribe links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The mail server for email actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpDef>,
    /// Where referral links lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrals: Option<ReferralsDef>,
    #[serde(default, rename = "trigger")]
    pub triggers: Vec<TriggerDef>,
}

/// One trigger as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerDef {
    pub name: String,
    pub when: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless: Option<String>,
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default)]
    pub holdout: f64,
    #[serde(default = "once", skip_serializing_if = "is_once")]
    pub limit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal_within: Option<String>,
    /// A paused trigger records nothing and acts on nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Only occurrences at or after this date or time (default: when the
    /// trigger was first evaluated, so a new trigger does not act on the
    /// past; `wayfarer triggers run --since` back-fills).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookDef>,
    /// A hosted survey invitation: its link goes in the action's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<SurveyDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailDef>,
    /// A referral offer: the customer's referral code and link (and a
    /// discount code) go in the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralDef>,
}

/// `[referrals]`: where `/r/{code}` sends the visitor (with `ref=CODE`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralsDef {
    pub landing_url: String,
}

/// `[trigger.referral]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralDef {
    /// The discount the referred friend gets (redemptions are tracked
    /// through Coupon Applied events carrying it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
}

/// An email action: templates (minijinja) over the payload (`customer.traits`,
/// `customer.id`, `event`, `survey.url`, `unsubscribe_url`…).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailDef {
    /// The trait holding the address.
    #[serde(default = "email_trait")]
    pub to: String,
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

fn email_trait() -> String {
    "email".into()
}

/// The mail server (`[smtp]` in triggers.toml).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpDef {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `starttls` (the default), `tls` (implicit, port 465) or `none`
    /// (plain, for a relay on the same machine).
    #[serde(default = "starttls")]
    pub security: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    #[serde(default = "ten_seconds")]
    pub timeout: String,
}

fn starttls() -> String {
    "starttls".into()
}

/// The mail server, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub timeout: i64,
}

/// An email action, checked (its templates are checked by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub smtp: Smtp,
    pub public_url: String,
}

/// A hosted survey to invite the customer to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyDef {
    /// `nps`, `csat` or `ces`.
    pub kind: String,
    /// How long the link stays open.
    #[serde(default = "fourteen_days")]
    pub expires: String,
}

fn fourteen_days() -> String {
    "14d".into()
}

fn once() -> String {
    "once".to_string()
}

fn is_once(s: &String) -> bool {
    s == "once"
}

/// Where a webhook action posts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookDef {
    pub url: String,
    /// The signing secret, or the environment variable holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// How long to wait for the receiver's answer.
    #[serde(default = "ten_seconds")]
    pub timeout: String,
    /// Attempts before the action goes to the dead letters.
    #[serde(default = "eight")]
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles (with ±50 % jitter),
    /// at most six hours.
    #[serde(default = "thirty_seconds")]
    pub backoff: String,
}

fn ten_seconds() -> String {
    "10s".into()
}

fn thirty_seconds() -> String {
    "30s".into()
}

fn eight() -> u32 {
    8
}

/// What starts a trigger for a customer.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    EntersStage(String),
    EntersSegment(String),
    LeavesSegment(String),
    /// Each match of a path pattern (its last event), as written.
    Event(String),
}

/// How often a trigger may act on one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Once,
    /// At most once per this long (µs).
    Every(i64),
}

/// A goal: an event pattern, or entering a stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Goal {
    Event(String),
    Stage(String),
}

/// A trigger checked for everything that needs no data.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub def: TriggerDef,
    pub when: When,
    pub wait: i64,
    pub limit: Limit,
    pub goal: Option<Goal>,
    pub goal_within: i64,
    pub start: Option<i64>,
    pub webhook: Option<Webhook>,
    /// The survey's kind and how long its link stays open (µs), with the
    /// server's public address.
    pub survey: Option<Survey>,
    pub email: Option<Email>,
    pub referral: Option<Referral>,
}

/// A referral offer, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Referral {
    pub discount_code: Option<String>,
    pub public_url: String,
}

/// Reads the file's structure only (what the server needs of it: where
/// referral links lead).
pub fn read_file(text: &str) -> Result<TriggersFile, String> {
    toml::from_str(text).map_err(|e| format!("triggers.toml: {}", e.message().trim()))
}

/// A survey invitation, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub kind: String,
    pub expires: i64,
    pub public_url: String,
}

/// A webhook with its durations read.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    pub timeout: i64,
    pub max_attempts: u32,
    pub backoff: i64,
}

/// The longest a trigger may wait.
const MAX_WAIT: i64 = 366 * crate::time::MICROS_PER_DAY;

/// Reads `triggers.toml`; every error names the trigger and the key.
/// `env` looks up `secret_env` variables (the caller decides whether the
/// process environment may be read).
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Trigger>, String> {
    let file = read_file(text)?;
    if let Some(r) = &file.referrals
        && !(r.landing_url.starts_with("http://") || r.landing_url.starts_with("https://"))
    {
        return Err(format!(
            "triggers.toml, key 'referrals.landing_url': '{}' is not an http(s) address",
            r.landing_url
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    if let Some(u) = &file.public_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return Err(format!("triggers.toml, key 'public_url': '{u}' is not an http:// or https:// address"));
    }
    let smtp = file
        .smtp
        .as_ref()
        .map(|d| check_smtp(d, env))
        .transpose()
        .map_err(|(k, e)| format!("triggers.toml, key '{k}': {e}"))?;
    for (i, def) in file.triggers.into_iter().enumerate() {
        let label =
            if def.name.trim().is_empty() { format!("trigger #{}", i + 1) } else { format!("trigger '{}'", def.name) };
        let t = check(def, env, file.public_url.as_deref(), smtp.as_ref())
            .map_err(|(key, e)| format!("{label}, key '{key}': {e}"))?;
        if seen.iter().any(|n| n.eq_ignore_ascii_case(&t.def.name)) {
            return Err(format!("{label}, key 'name': two triggers have this name"));
        }
        seen.push(t.def.name.clone());
        if t.referral.is_some() && file.referrals.is_none() {
            return Err(format!(
                "{label}, key 'referral': needs [referrals] landing_url in triggers.toml (where referral links lead)"
            ));
        }
        out.push(t);
    }
    Ok(out)
}

fn check_smtp(d: &SmtpDef, env: &dyn Fn(&str) -> Option<String>) -> Result<Smtp, (&'static str, String)> {
    if d.host.trim().is_empty() {
        return Err(("smtp.host", "is empty".into()));
    }
    let port = match (d.security.as_str(), d.port) {
        (_, Some(p)) => p,
        ("tls", None) => 465,
        ("starttls", None) => 587,
        ("none", None) => 25,
        _ => 0,
    };
    if !["starttls", "tls", "none"].contains(&d.security.as_str()) {
        return Err(("smtp.security", format!("'{}' is none of starttls, tls, none", d.security)));
    }
    if !d.from.contains('@') {
        return Err(("smtp.from", format!("'{}' is not an address", d.from)));
    }
    let password = match (&d.password, &d.password_env) {
        (Some(_), Some(_)) => return Err(("smtp.password", "give 'password' or 'password_env', not both".into())),
        (Some(p), None) => Some(p.clone()),
        (None, Some(var)) => match env(var) {
            Some(p) => Some(p),
            None => return Err(("smtp.password_env", format!("the environment variable {var} is not set"))),
        },
        (None, None) => None,
    };
    if d.username.is_some() != password.is_some() {
        return Err(("smtp.username", "needs a password too (and a password a username)".into()));
    }
    let timeout = match parse_duration(&d.timeout) {
        Ok(t) if t > 0 && t <= 120 * crate::time::MICROS_PER_SECOND => t,
        _ => return Err(("smtp.timeout", format!("'{}' is not a duration up to 2 minutes", d.timeout))),
    };
    Ok(Smtp {
        host: d.host.trim().to_string(),
        port,
        security: d.security.clone(),
        username: d.username.clone(),
        password,
        from: d.from.clone(),
        timeout,
    })
}

fn check(
    def: TriggerDef,
    env: &dyn Fn(&str) -> Option<String>,
    public_url: Option<&str>,
    smtp: Option<&Smtp>,
) -> Result<Trigger, (&'static str, String)> {
    let name = def.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(("name", "a trigger's name has 1 to 64 characters".into()));
    }
    if name.chars().any(char::is_control) {
        return Err(("name", "a trigger's name holds no control characters".into()));
    }
    let when = parse_when(&def.when).map_err(|e| ("when", e))?;
    let duration = |key: &'static str, v: &Option<String>| -> Result<Option<i64>, (&'static str, String)> {
        v.as_deref()
            .map(|s| match parse_duration(s) {
                Ok(d) if (0..=MAX_WAIT).contains(&d) => Ok(d),
                Ok(_) => Err((key, format!("'{s}' is not between 0 and 366 days"))),
                Err(e) => Err((key, e)),
            })
            .transpose()
    };
    let wait = duration("wait", &def.wait)?.unwrap_or(0);
    if def.until.is_some() && def.wait.is_none() {
        return Err(("until", "needs 'wait' too: the longest to wait for it".into()));
    }
    for (key, v) in [("until", &def.until), ("unless", &def.unless), ("if", &def.condition)] {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err((key, "is empty".into()));
        }
    }
    if !(0.0..1.0).contains(&def.holdout) || def.holdout.is_nan() {
        return Err((
            "holdout",
            format!("{} is not a share from 0 to below 1 (0.1 keeps 10 % as a control)", def.holdout),
        ));
    }
    let limit = match def.limit.trim() {
        "once" => Limit::Once,
        other => match parse_duration(other) {
            Ok(d) if d > 0 => Limit::Every(d),
            _ => return Err(("limit", format!("'{other}' is neither 'once' nor a duration such as '30d'"))),
        },
    };
    let goal = match def.goal.as_deref().map(str::trim) {
        None => None,
        Some(g) => Some(match stage_name(g, "stage") {
            Some(s) => Goal::Stage(s.map_err(|e| ("goal", e))?),
            None if g.is_empty() => return Err(("goal", "is empty".into())),
            None => Goal::Event(g.to_string()),
        }),
    };
    let goal_within = duration("goal_within", &def.goal_within)?.unwrap_or(30 * crate::time::MICROS_PER_DAY);
    if def.goal_within.is_some() && goal.is_none() {
        return Err(("goal_within", "needs a 'goal'".into()));
    }
    let start = def.start.as_deref().map(|s| crate::time::parse_timestamp(s).map_err(|e| ("start", e))).transpose()?;
    let webhook = match &def.webhook {
        None => None,
        Some(w) => Some(check_webhook(w, env)?),
    };
    let survey = match &def.survey {
        None => None,
        Some(sv) => {
            if !["nps", "csat", "ces"].contains(&sv.kind.as_str()) {
                return Err(("survey.kind", format!("'{}' is none of nps, csat, ces", sv.kind)));
            }
            let expires = match parse_duration(&sv.expires) {
                Ok(d) if d > 0 && d <= MAX_WAIT => d,
                _ => return Err(("survey.expires", format!("'{}' is not a duration up to 366 days", sv.expires))),
            };
            let Some(url) = public_url else {
                return Err((
                    "survey",
                    "needs public_url at the top of triggers.toml: the address customers reach the server at".into(),
                ));
            };
            Some(Survey { kind: sv.kind.clone(), expires, public_url: url.trim_end_matches('/').to_string() })
        }
    };
    let email = match &def.email {
        None => None,
        Some(e) => {
            if def.webhook.is_some() {
                return Err(("email", "a trigger has one action: a webhook or an email".into()));
            }
            let Some(smtp) = smtp else {
                return Err(("email", "needs an [smtp] section in triggers.toml (host, from…)".into()));
            };
            let Some(url) = public_url else {
                return Err((
                    "email",
                    "needs public_url at the top of triggers.toml: every email carries an unsubscribe link".into(),
                ));
            };
            if e.subject.trim().is_empty() || e.body.trim().is_empty() {
                return Err(("email", "needs a subject and a body".into()));
            }
            Some(Email {
                to: e.to.trim().trim_start_matches("traits.").to_string(),
                subject: e.subject.clone(),
                body: e.body.clone(),
                smtp: smtp.clone(),
                public_url: url.trim_end_matches('/').to_string(),
            })
        }
    };
    let referral = match &def.referral {
        None => None,
        Some(r) => {
            let Some(url) = public_url else {
                return Err((
                    "referral",
                    "needs public_url at the top of triggers.toml: referral links lead there".into(),
                ));
            };
            if r.discount_code.as_deref().is_some_and(|c| c.trim().is_empty() || c.contains(char::is_whitespace)) {
                return Err(("referral.discount_code", "is empty or holds spaces".into()));
            }
            Some(Referral { discount_code: r.discount_code.clone(), public_url: url.trim_end_matches('/').to_string() })
        }
    };
    Ok(Trigger { when, wait, limit, goal, goal_within, start, webhook, survey, email, referral, def })
}

fn check_webhook(w: &WebhookDef, env: &dyn Fn(&str) -> Option<String>) -> Result<Webhook, (&'static str, String)> {
    let url = w.url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        return Err(("webhook.url", format!("'{url}' is not an http:// or https:// address")));
    }
    let secret = match (&w.secret, &w.secret_env) {
        (Some(_), Some(_)) => return Err(("webhook.secret", "give 'secret' or 'secret_env', not both".into())),
        (Some(s), None) if s.len() < 16 => {
            return Err(("webhook.secret", "is shorter than 16 characters; use a long random secret".into()));
        }
        (Some(s), None) => Some(s.clone()),
        (None, Some(var)) => match env(var) {
            Some(s) if !s.is_empty() => Some(s),
            _ => return Err(("webhook.secret_env", format!("the environment variable {var} is not set"))),
        },
        (None, None) => None,
    };
    let timeout = match parse_duration(&w.timeout) {
        Ok(d) if d > 0 && d <= 120 * crate::time::MICROS_PER_SECOND => d,
        _ => return Err(("webhook.timeout", format!("'{}' is not a duration up to 2 minutes", w.timeout))),
    };
    if !(1..=50).contains(&w.max_attempts) {
        return Err(("webhook.max_attempts", format!("{} is not from 1 to 50", w.max_attempts)));
    }
    let backoff = match parse_duration(&w.backoff) {
        Ok(d) if (0..=crate::time::MICROS_PER_DAY).contains(&d) => d,
        _ => return Err(("webhook.backoff", format!("'{}' is not a duration up to a day", w.backoff))),
    };
    Ok(Webhook { url: url.to_string(), secret, timeout, max_attempts: w.max_attempts, backoff })
}

/// `stage 'Name'` (or `stage Name`): `Some` with the name, or the error of
/// a malformed one; `None` when the text is not about a stage.
fn stage_name(text: &str, keyword: &str) -> Option<Result<String, String>> {
    let rest = text.strip_prefix(keyword)?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let name = unquote(rest.trim());
    Some(if name.is_empty() { Err(format!("'{keyword}' needs a stage name")) } else { Ok(name) })
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.replace(&format!("\\{q}"), &q.to_string());
        }
    }
    s.to_string()
}

/// Reads `when`.
pub fn parse_when(text: &str) -> Result<When, String> {
    let t = text.trim();
    let word = |w: &str| t.strip_prefix(w).filter(|r| r.starts_with(char::is_whitespace)).map(str::trim);
    let name = |r: &str, what: &str| {
        let n = unquote(r);
        if n.is_empty() { Err(format!("'{what}' needs a name")) } else { Ok(n) }
    };
    if let Some(r) = word("enters stage") {
        return Ok(When::EntersStage(name(r, "enters stage")?));
    }
    if let Some(r) = word("enters segment") {
        return Ok(When::EntersSegment(name(r, "enters segment")?));
    }
    if let Some(r) = word("leaves segment") {
        return Ok(When::LeavesSegment(name(r, "leaves segment")?));
    }
    if let Some(r) = word("event") {
        crate::pattern::Pattern::parse(r).map_err(|e| format!("the pattern after 'event', {e}"))?;
        return Ok(When::Event(r.to_string()));
    }
    Err(format!(
        "'{t}' is none of: enters stage 'S', enters segment 'G', leaves segment 'G', event PATTERN \
         (e.g. event Order Completed[nth_purchase = 1])"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_full_trigger_reads() {
        let text = r#"
[[trigger]]
name = "CSAT after first order"
when = "event Order Completed[nth_purchase = 1]"
wait = "3d"
until = "Order Delivered"
unless = "Order Refunded"
if = "traits.email"
holdout = 0.1
goal = "Survey Responded"
goal_within = "14d"
[trigger.webhook]
url = "http://127.0.0.1:9/hook"
secret_env = "HOOK"

[[trigger]]
name = "Welcome"
when = "enters stage 'Purchase'"
limit = "30d"
goal = "stage 'Retention'"
"#;
        let env = |k: &str| (k == "HOOK").then(|| "s3cret-s3cret-s3cret".to_string());
        let t = parse(text, &env).unwrap();
        assert_eq!(t[0].when, When::Event("Order Completed[nth_purchase = 1]".into()));
        assert_eq!(t[0].wait, 3 * crate::time::MICROS_PER_DAY);
        assert_eq!(t[0].webhook.as_ref().unwrap().secret.as_deref(), Some("s3cret-s3cret-s3cret"));
        assert_eq!(t[0].limit, Limit::Once);
        assert_eq!(t[1].when, When::EntersStage("Purchase".into()));
        assert_eq!(t[1].limit, Limit::Every(30 * crate::time::MICROS_PER_DAY));
        assert_eq!(t[1].goal, Some(Goal::Stage("Retention".into())));
    }

    #[test]
    fn errors_name_the_trigger_and_key() {
        let one = |body: &str| parse(&format!("[[trigger]]\nname = \"T\"\n{body}"), &no_env).unwrap_err();
        for (body, want) in [
            ("when = \"enters stag 'X'\"", "trigger 'T', key 'when'"),
            ("when = \"event A -> \"", "key 'when': the pattern after 'event', at column 5"),
            ("when = \"event A\"\nwait = \"3 fortnights\"", "key 'wait'"),
            ("when = \"event A\"\nholdout = 1.5", "key 'holdout'"),
            ("when = \"event A\"\nlimit = \"sometimes\"", "key 'limit'"),
            ("when = \"event A\"\nuntil = \"B\"", "key 'until': needs 'wait'"),
            ("when = \"event A\"\n[trigger.webhook]\nurl = \"ftp://x\"", "key 'webhook.url'"),
            (
                "when = \"event A\"\n[trigger.webhook]\nurl = \"http://x.test/h\"\nsecret_env = \"NOPE\"",
                "NOPE is not set",
            ),
            ("when = \"event A\"\nwhen2 = 1", "unknown field `when2`"),
        ] {
            let e = one(body);
            assert!(e.contains(want), "{body}: {e}");
        }
        let e = parse(
            "[[trigger]]\nname = \"a\"\nwhen = \"event A\"\n[[trigger]]\nname = \"A\"\nwhen = \"event A\"",
            &no_env,
        )
        .unwrap_err();
        assert!(e.contains("two triggers have this name"), "{e}");
    }
}
