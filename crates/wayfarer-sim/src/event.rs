//! The compact in-memory form of a simulated event ([`Ev`]), the contexts it
//! shares with its neighbours (page, campaign), a tiny JSON object builder for
//! pre-serialised properties, and the deterministic identifiers (message ids,
//! anonymous ids, user ids) derived from the seed.
//!
//! An event keeps only what cannot be derived at write time: identities are
//! small codes resolved against the customer table, the page context is
//! shared by every event on a page, and rarely used fields live in a boxed
//! [`Extra`]. Properties other than the special ones (channel, revenue, score,
//! survey, text) are kept as a JSON object string.

use std::fmt::Write as _;
use std::sync::Arc;

use wayfarer_core::Kind;

use crate::rng::mix64;

/// Who the event names as `userId`.
pub(crate) const U_NONE: u8 = 0;
/// The customer's web user id (`u-NNNNNN`).
pub(crate) const U_WEB: u8 = 1;
/// The customer's phone/CRM id (`crm-NNNNN`, or the web id when no CRM id).
pub(crate) const U_PHONE: u8 = 2;
/// Decided when the customer is finished: the web id once the device of the
/// event has been identified, none before.
pub(crate) const U_AUTO: u8 = 3;

/// Where the event was sent from.
pub(crate) const SRC_DEVICE: u8 = 0;
pub(crate) const SRC_SERVER: u8 = 1;

/// Simulation-internal tags (never written), used to measure the truth.
pub(crate) mod tag {
    pub(crate) const NONE: u8 = 0;
    pub(crate) const SHIPPING_PAGE: u8 = 1;
    pub(crate) const DELIVERY_FIRST: u8 = 2;
    pub(crate) const DELIVERY_FIRST_LATE: u8 = 3;
    pub(crate) const DELIVERY_REPEAT: u8 = 4;
    pub(crate) const DELIVERY_REPEAT_LATE: u8 = 5;
    /// Sent by the company, not initiated by the customer.
    pub(crate) const COMPANY: u8 = 6;
    pub(crate) const PHONE_ORDER: u8 = 7;
    pub(crate) const CSAT_LATE: u8 = 8;
    pub(crate) const CSAT_ON_TIME: u8 = 9;
    /// A review with rating 4–5 (an Advocacy event).
    pub(crate) const ADVOCACY_REVIEW: u8 = 10;
}

/// The page an event happened on (web only).
#[derive(Debug, Clone)]
pub(crate) struct PageCtx {
    /// Full URL, including any query (UTM parameters on landings).
    pub url: Box<str>,
    /// Referrer URL; empty for none (as analytics.js sends it).
    pub referrer: Box<str>,
    pub title: Box<str>,
    /// Segment page name and category (the name is carried on the event itself).
    #[allow(dead_code)]
    pub name: &'static str,
    pub category: &'static str,
}

impl PageCtx {
    /// Path without the query.
    pub(crate) fn path(&self) -> &str {
        let after_scheme = self.url.find("://").map_or(0, |i| i + 3);
        let rest = &self.url[after_scheme..];
        let from = rest.find('/').unwrap_or(rest.len());
        let path = &rest[from..];
        let end = path.find(['?', '#']).unwrap_or(path.len());
        if end == 0 { "/" } else { &path[..end] }
    }

    /// The query string including its `?`, or empty.
    pub(crate) fn search(&self) -> &str {
        match self.url.find('?') {
            Some(i) => {
                let q = &self.url[i..];
                &q[..q.find('#').unwrap_or(q.len())]
            }
            None => "",
        }
    }

    pub(crate) fn referrer(&self) -> Option<&str> {
        if self.referrer.is_empty() { None } else { Some(&*self.referrer) }
    }
}

/// `context.campaign` of an event (UTM values).
#[derive(Debug, Clone)]
pub(crate) struct CampaignCtx {
    pub source: Box<str>,
    pub medium: &'static str,
    pub name: Option<Box<str>>,
    pub term: Option<&'static str>,
}

/// Rarely present special fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    /// `properties.channel` (offline channels only).
    pub channel: Option<&'static str>,
    pub revenue: Option<f64>,
    pub score: Option<f64>,
    pub survey: Option<&'static str>,
    /// The property key the text is sent under (`text`, `comment`, `review_body`).
    pub text_key: &'static str,
    pub text: Option<Box<str>>,
}

/// One simulated event.
#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub ts: i64,
    pub cust: u32,
    pub seq: u32,
    /// The customer whose device (anonymous id) sent it; differs from `cust`
    /// only on a shared laptop.
    pub anon_owner: u32,
    pub kind: Kind,
    /// U_NONE, U_WEB, U_PHONE or U_AUTO.
    pub user: u8,
    /// 0: no anonymous id; 1: main device; 2: second device.
    pub slot: u8,
    pub src: u8,
    /// Timestamp written with the customer's local offset.
    pub local_tz: bool,
    pub tag: u8,
    /// Track event name, page name or screen name.
    pub name: &'static str,
    pub page: Option<Arc<PageCtx>>,
    pub campaign: Option<Arc<CampaignCtx>>,
    pub extra: Option<Box<Extra>>,
    /// Other properties (traits for identify) as a JSON object; empty for `{}`.
    pub props: Box<str>,
}

impl Ev {
    pub(crate) fn new(kind: Kind, ts: i64, name: &'static str) -> Ev {
        Ev {
            ts,
            cust: 0,
            seq: 0,
            anon_owner: 0,
            kind,
            user: U_AUTO,
            slot: 1,
            src: SRC_DEVICE,
            local_tz: false,
            tag: tag::NONE,
            name,
            page: None,
            campaign: None,
            extra: None,
            props: Box::from(""),
        }
    }

    /// A server-side track event for a user id.
    pub(crate) fn server(ts: i64, name: &'static str, user: u8) -> Ev {
        let mut e = Ev::new(Kind::Track, ts, name);
        e.src = SRC_SERVER;
        e.user = user;
        e.slot = 0;
        e
    }

    pub(crate) fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(|| Box::new(Extra::default()))
    }

    pub(crate) fn with_props(mut self, props: Box<str>) -> Ev {
        self.props = props;
        self
    }

    pub(crate) fn with_channel(mut self, channel: &'static str) -> Ev {
        self.extra_mut().channel = Some(channel);
        self
    }

    pub(crate) fn with_text(mut self, key: &'static str, text: String) -> Ev {
        let x = self.extra_mut();
        x.text_key = key;
        x.text = Some(text.into_boxed_str());
        self
    }

    pub(crate) fn with_tag(mut self, tag: u8) -> Ev {
        self.tag = tag;
        self
    }

    pub(crate) fn channel(&self) -> Option<&'static str> {
        self.extra.as_ref().and_then(|x| x.channel)
    }

    pub(crate) fn revenue(&self) -> Option<f64> {
        self.extra.as_ref().and_then(|x| x.revenue)
    }

    pub(crate) fn score(&self) -> Option<f64> {
        self.extra.as_ref().and_then(|x| x.score)
    }

    pub(crate) fn survey(&self) -> Option<&'static str> {
        self.extra.as_ref().and_then(|x| x.survey)
    }

    pub(crate) fn text(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|x| x.text.as_deref())
    }

    /// The event name as the canonical event column has it.
    pub(crate) fn event_name(&self) -> &'static str {
        match self.kind {
            Kind::Track => self.name,
            Kind::Page => "Page Viewed",
            Kind::Screen => "Screen Viewed",
            Kind::Identify => "Identify",
            Kind::Group => "Group",
            Kind::Alias => "Alias",
        }
    }

    pub(crate) fn is_interaction(&self) -> bool {
        self.kind.is_interaction()
    }
}

// ---------------------------------------------------------------------------
// JSON building
// ---------------------------------------------------------------------------

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a number as JSON (`null` when not finite).
pub(crate) fn push_json_num(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    } else {
        out.push_str("null");
    }
}

/// Builds a JSON object as text, member by member.
#[derive(Debug, Default)]
pub(crate) struct Obj(String);

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj(String::with_capacity(128))
    }

    fn key(&mut self, k: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        push_json_str(&mut self.0, k);
        self.0.push(':');
    }

    pub(crate) fn s(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        push_json_str(&mut self.0, v);
        self
    }

    pub(crate) fn n(mut self, k: &str, v: f64) -> Obj {
        self.key(k);
        push_json_num(&mut self.0, v);
        self
    }

    pub(crate) fn i(mut self, k: &str, v: i64) -> Obj {
        self.key(k);
        let _ = write!(self.0, "{v}");
        self
    }

    pub(crate) fn b(mut self, k: &str, v: bool) -> Obj {
        self.key(k);
        self.0.push_str(if v { "true" } else { "false" });
        self
    }

    /// A member whose value is already JSON.
    pub(crate) fn raw(mut self, k: &str, json: &str) -> Obj {
        self.key(k);
        self.0.push_str(json);
        self
    }

    /// The object as text (`{}` when empty).
    pub(crate) fn text(mut self) -> String {
        if self.0.is_empty() {
            return "{}".to_string();
        }
        self.0.push('}');
        self.0
    }

    /// The object for [`Ev::props`] (empty string when empty).
    pub(crate) fn done(mut self) -> Box<str> {
        if self.0.is_empty() {
            return Box::from("");
        }
        self.0.push('}');
        self.0.into_boxed_str()
    }
}

/// The members of a JSON object text without its braces ("" for `{}` or "").
pub(crate) fn members(obj: &str) -> &str {
    let t = obj.trim();
    if t.len() < 2 {
        return "";
    }
    t[1..t.len() - 1].trim()
}

/// Rounds money to cents.
pub(crate) fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

// ---------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------

/// Formats 128 bits as a version-4-looking UUID. `hi` is kept whole, so ids
/// with distinct `hi` are distinct.
fn uuid(hi: u64, lo: u64) -> String {
    let lo = (lo & 0x0FFF_3FFF_FFFF_FFFF) | 0x4000_8000_0000_0000;
    // Layout: hi = 8-4-4 hex digits; lo supplies the version nibble, the
    // variant and the rest.
    let a = (hi >> 32) as u32;
    let b = ((hi >> 16) & 0xFFFF) as u16;
    let c = (hi & 0xFFFF) as u16;
    let d = (lo >> 48) as u16;
    let e = lo & 0xFFFF_FFFF_FFFF;
    format!("{a:08x}-{b:04x}-{d:04x}-{c:04x}-{e:012x}")
}

/// Message id of a customer's `seq`-th event: unique per (seed, customer, seq).
pub(crate) fn message_id(seed: u64, cust: u32, seq: u32) -> String {
    let key = (u64::from(cust) << 32) | u64::from(seq);
    let hi = mix64(key ^ mix64(seed ^ 0x4D45_5353_4147_4531));
    let lo = mix64(hi ^ 0x6D73_6769_6400_0001);
    uuid(hi, lo)
}

/// Anonymous id of a customer's device slot (1 or 2).
pub(crate) fn anonymous_id(seed: u64, cust: u32, slot: u8) -> String {
    let key = (u64::from(cust) << 8) | u64::from(slot);
    let hi = mix64(key ^ mix64(seed ^ 0x414E_4F4E_5F49_4431));
    let lo = mix64(hi ^ 0x616E_6F6E_0000_0002);
    uuid(hi, lo)
}

pub(crate) fn web_user_id(cust: u32) -> String {
    format!("u-{:06}", u64::from(cust) + 1)
}

pub(crate) fn crm_id(cust: u32) -> String {
    format!("crm-{:05}", u64::from(cust) + 10_000)
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

pub(crate) const SECOND: i64 = 1_000_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 3339 with milliseconds: `Z`, or the given offset in minutes.
pub(crate) fn format_ts(micros: i64, offset_minutes: i32) -> String {
    let local = micros + i64::from(offset_minutes) * MINUTE;
    let secs = local.div_euclid(SECOND);
    let ms = local.rem_euclid(SECOND) / 1000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, (sod / 60) % 60, sod % 60);
    if offset_minutes == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z")
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let off = offset_minutes.unsigned_abs();
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}{sign}{:02}:{:02}", off / 60, off % 60)
    }
}

/// `YYYY-MM-DD` (UTC).
pub(crate) fn format_date(micros: i64) -> String {
    let (y, m, d) = civil_from_days(micros.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Day of the week, Monday = 0 (UTC).
pub(crate) fn weekday(micros: i64) -> i64 {
    (micros.div_euclid(DAY) + 3).rem_euclid(7)
}

/// Rounds to whole milliseconds (the precision written to NDJSON).
pub(crate) fn ms(micros: i64) -> i64 {
    micros.div_euclid(1000) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_dates() {
        // 2026-05-01T00:00:00Z, a Friday.
        let t = 1_777_593_600_000_000;
        assert_eq!(format_ts(t, 0), "2026-05-01T00:00:00.000Z");
        assert_eq!(format_ts(t + 1_500, 0), "2026-05-01T00:00:00.001Z");
        assert_eq!(format_ts(t, 120), "2026-05-01T02:00:00.000+02:00");
        assert_eq!(format_ts(t, -240), "2026-04-30T20:00:00.000-04:00");
        assert_eq!(format_date(t), "2026-05-01");
        assert_eq!(weekday(t), 4);
        assert_eq!(format_ts(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_date(951_782_400_000_000), "2000-02-29");
    }

    #[test]
    fn ids_are_uuid_shaped_and_distinct() {
        let a = message_id(7, 1, 2);
        let b = message_id(7, 2, 1);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert_eq!(anonymous_id(7, 5, 1).len(), 36);
        assert_ne!(anonymous_id(7, 5, 1), anonymous_id(7, 5, 2));
        assert_eq!(web_user_id(122), "u-000123");
        assert_eq!(crm_id(42), "crm-10042");
    }

    #[test]
    fn json_builder() {
        let o = Obj::new().s("a", "x\"y").n("b", 12.5).i("c", 3).b("d", true).done();
        assert_eq!(&*o, r#"{"a":"x\"y","b":12.5,"c":3,"d":true}"#);
        assert_eq!(members(&o), r#""a":"x\"y","b":12.5,"c":3,"d":true"#);
        assert_eq!(&*Obj::new().done(), "");
        assert_eq!(Obj::new().text(), "{}");
        let p = PageCtx {
            url: "https://shop.northwind.example/c/tents?utm_source=x".into(),
            referrer: "".into(),
            title: "t".into(),
            name: "Category",
            category: "Shop",
        };
        assert_eq!(p.path(), "/c/tents");
        assert_eq!(p.search(), "?utm_source=x");
        assert_eq!(p.referrer(), None);
    }
}
