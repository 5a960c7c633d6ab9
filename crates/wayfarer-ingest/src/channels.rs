//! Traffic-source attribution for one event: GA4's *default channel group*
//! plus the derivation of source / medium / campaign from the event's UTM
//! values, page URL and referrer.
//!
//! This module owns only the defaults. Custom channel rules from the
//! configuration (`[[channels.rules]]`) and explicit `channel` values on
//! events are applied by the caller *before* these defaults, and the caller
//! decides what an event without traffic information inherits (its session's
//! channel, when `inherit_session_channel` is set). The offline channels
//! ([`OFFLINE_CHANNELS`]) never come out of these rules; they only come from
//! an explicit `channel` property.
//!
//! # Sources
//!
//! * Channel rules and their order: Google Analytics Help, "\[GA4\] Default
//!   channel group", <https://support.google.com/analytics/answer/9756891>,
//!   the table "Channels for manual traffic" (the rules that apply when all
//!   we know is source, medium and campaign name). The Google Ads / DV360 /
//!   SA360 rows of that page need platform data (ad network type, creative
//!   format) that raw events do not carry, so they are not implemented; a
//!   Google Ads click arrives here as `google / cpc` (from `gclid`).
//! * Source categories: the "source categories" spreadsheet linked from that
//!   page, as published verbatim in the dbt-ga4 package
//!   (`Velir/dbt-ga4`, `seeds/ga4_source_categories.csv`: 819 rows, 131
//!   search, 590 social, 46 video, 52 shopping). The four `*_SOURCES` slices
//!   below are that list, lower-cased and sorted; nothing was added to or
//!   removed from it. The one Wayfarer addition is kept apart in
//!   `EXTRA_SOCIAL_SOURCES`.
//! * Cross-checked against the dbt-ga4 macro `default_channel_grouping.sql`
//!   (same order, same regexes) and PostHog's `channel_type.py` (click-id
//!   caveats).
//!
//! # Evaluation order (first match wins, exactly Google's table order)
//!
//! | # | Channel | Condition (source, medium, campaign lower-cased) |
//! |---|---------|-----------|
//! | 1 | Direct | source = `(direct)` and medium ∈ {`(not set)`, `(none)`} |
//! | 2 | Cross-network | campaign contains `cross-network` |
//! | 3 | Paid Shopping | (source ∈ SHOPPING or campaign ~ `^(.*(([^a-df-z]\|^)shop\|shopping).*)$`) and medium ~ PAID |
//! | 4 | Paid Search | source ∈ SEARCH and medium ~ PAID |
//! | 5 | Paid Social | source ∈ SOCIAL and medium ~ PAID |
//! | 6 | Paid Video | source ∈ VIDEO and medium ~ PAID |
//! | 7 | Display | medium ∈ {display, banner, expandable, interstitial, cpm} |
//! | 8 | Paid Other | medium ~ PAID |
//! | 9 | Organic Shopping | source ∈ SHOPPING or campaign ~ shop regex (as in 3) |
//! | 10 | Organic Social | source ∈ SOCIAL or medium ∈ {social, social-network, social-media, sm, social network, social media} |
//! | 11 | Organic Video | source ∈ VIDEO or medium ~ `^(.*video.*)$` |
//! | 12 | Organic Search | source ∈ SEARCH or medium = organic |
//! | 13 | Referral | medium ∈ {referral, app, link} |
//! | 14 | Email | source or medium ∈ {email, e-mail, e_mail, e mail} |
//! | 15 | Affiliates | medium = affiliate |
//! | 16 | Audio | medium = audio |
//! | 17 | SMS | source = sms or medium = sms |
//! | 18 | Mobile Push Notifications | medium ends with `push`, or contains `mobile` or `notification`, or source = firebase |
//! | 19 | Unassigned | nothing above matched |
//!
//! PAID is `^(.*cp.*|ppc|retargeting|paid.*)$`: medium contains `cp`, or is
//! `ppc` or `retargeting`, or starts with `paid`. Note that `cpm` is PAID, so
//! `google / cpm` is Paid Search (rule 4) while `adnetwork / cpm` is Display
//! (rule 7). The regexes are implemented by hand with string tests, with
//! GA4's full-match semantics (hence the explicit `.*` in Google's patterns).
//!
//! # Judgement calls
//!
//! * Case: source, medium and campaign are trimmed and lower-cased before
//!   matching. An empty source counts as `(direct)`, an empty medium as
//!   `(not set)`.
//! * Email: Google writes "Source = email|e-mail|e_mail|e mail"; read as
//!   *equals one of* (GA4 regexes match the whole value). dbt-ga4 reads it as
//!   *contains*, which would also catch `newsletter-email`.
//! * "Source matches a list of … sites": a source is in a category when it
//!   equals a listed name, or when it is a host (or URL) that belongs to a
//!   listed site — see `source_category`. Subdomains of a listed social,
//!   video or shopping domain inherit its category (`de.pinterest.com`,
//!   `foo.blogspot.com`); search domains only lend their category to their
//!   search front-ends (`www.`, `m.`, `search.`, `images.`, …), so
//!   `docs.google.com` or `news.yahoo.com` stay plain referrals.
//! * Source / medium derivation is in [`source_medium`]; its doc lists the
//!   precedence and the click-id choices.

use std::borrow::Cow;

use wayfarer_core::url::percent_decode;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// The traffic facts of one event, as found in the data (all optional).
#[derive(Debug, Clone, Copy, Default)]
pub struct Traffic<'a> {
    /// `utm_source` / `context.campaign.source`.
    pub source: Option<&'a str>,
    /// `utm_medium`.
    pub medium: Option<&'a str>,
    /// `utm_campaign` / campaign name.
    pub campaign: Option<&'a str>,
    /// Page URL (may carry `utm_*` query parameters, gclid, fbclid, msclkid...).
    pub url: Option<&'a str>,
    /// Page referrer URL.
    pub referrer: Option<&'a str>,
}

/// Source, medium and campaign of an event after GA4's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMedium {
    pub source: String,
    pub medium: String,
    pub campaign: Option<String>,
}

const DIRECT: &str = "Direct";
const CROSS_NETWORK: &str = "Cross-network";
const PAID_SHOPPING: &str = "Paid Shopping";
const PAID_SEARCH: &str = "Paid Search";
const PAID_SOCIAL: &str = "Paid Social";
const PAID_VIDEO: &str = "Paid Video";
const DISPLAY: &str = "Display";
const PAID_OTHER: &str = "Paid Other";
const ORGANIC_SHOPPING: &str = "Organic Shopping";
const ORGANIC_SOCIAL: &str = "Organic Social";
const ORGANIC_VIDEO: &str = "Organic Video";
const ORGANIC_SEARCH: &str = "Organic Search";
const REFERRAL: &str = "Referral";
const EMAIL: &str = "Email";
const AFFILIATES: &str = "Affiliates";
const AUDIO: &str = "Audio";
const SMS: &str = "SMS";
const MOBILE_PUSH: &str = "Mobile Push Notifications";
const UNASSIGNED: &str = "Unassigned";

pub use wayfarer_core::event::{GA4_CHANNELS, OFFLINE_CHANNELS};

/// Values of source or medium that make a visit Email (rule 14).
const EMAIL_VALUES: &[&str] = &["email", "e-mail", "e_mail", "e mail"];

/// Source of direct traffic.
const DIRECT_SOURCE: &str = "(direct)";
/// Medium of direct traffic.
const NONE: &str = "(none)";
/// GA4's placeholder for a missing source or medium.
const NOT_SET: &str = "(not set)";

/// Google Ads click identifiers (`gclid`, the iOS `wbraid` / `gbraid`, and
/// `dclid` of Display & Video 360 / Campaign Manager); all map to
/// `google / cpc`.
const GOOGLE_CLICK_IDS: &[&str] = &["gclid", "wbraid", "gbraid", "dclid"];

/// Source and medium after GA4's rules, in this order of precedence:
///
/// 1. Explicit UTM values (`t.source`, `t.medium`, `t.campaign`) win, field by
///    field, over `utm_source` / `utm_medium` / `utm_campaign` in the page
///    URL. If either a source or a medium is known this way, that is the
///    answer; the missing one of the two is `(not set)`, as in GA4.
/// 2. Click ids in the URL: `gclid`, `wbraid`, `gbraid`, `dclid` give
///    `google / cpc`; `msclkid` gives `bing / cpc`.
/// 3. An external referrer: a search engine gives `<engine> / organic`
///    (`google`, `bing`, `yahoo`, `duckduckgo`, …: the site's name when
///    Google's search list has it bare, else its registrable domain such as
///    `ecosia.org`); webmail and webmaster hosts of search companies
///    (`mail.google.com`) and any other site give `<host> / referral`, with
///    the host lower-cased and a leading `www.` removed.
/// 4. `fbclid` without an external referrer gives `facebook.com / referral`.
///    Meta adds `fbclid` to organic and paid clicks alike, on Facebook,
///    Instagram and Messenger, so it is no paid signal and an external
///    referrer (say `l.instagram.com`) is the better source; hence it ranks
///    below the referrer and maps to a referral (channel Organic Social).
/// 5. A referrer whose host is one of `own_domains` or a subdomain of one,
///    or the page's own domain (the page URL's host without `www.`) or a
///    subdomain of it (GA4's automatic self-referral detection), is internal
///    navigation: the event carries no traffic information and the answer
///    is `None` ("inherit the session's").
/// 6. Otherwise, for an event with a page URL (or an explicit campaign):
///    `(direct) / (none)`. An event with no UTM values, no URL and no usable
///    referrer (a server-side event, say) has no traffic information: `None`.
///
/// The campaign is the UTM campaign when there is one (it is kept whatever
/// the source turns out to be) and `None` otherwise. UTM values are kept as
/// given (trimmed, case preserved, as GA4 reports them); matching is
/// case-insensitive in [`default_channel_group`]. A referrer that is not a
/// parsable URL is treated as absent. Query parameters after `#` are not
/// read (GA4 ignores them too).
///
/// GA4 credits `(direct)` only when a session has no other source; the
/// caller should not let a direct event replace a known session channel.
pub fn source_medium(t: &Traffic<'_>, own_domains: &[String]) -> Option<SourceMedium> {
    resolve(t, own_domains).map(|sm| SourceMedium {
        source: sm.source.into_owned(),
        medium: sm.medium.into_owned(),
        campaign: sm.campaign.map(Cow::into_owned),
    })
}

/// Writes into `key` everything of `t` that [`classify`] reads, so that
/// two traffics with the same key classify alike (under the same own
/// domains): the source, medium and campaign as given, the page URL's query,
/// and the page URL and the referrer up to the end of their host and port
/// (all that [`url_host`] reads). Paths, which differ from event to event,
/// are left out.
pub fn classification_key(t: &Traffic<'_>, key: &mut String) {
    use std::fmt::Write;
    key.clear();
    let url = non_empty(t.url);
    let query = url.map(|u| u.split_once('#').map_or(u, |(before, _)| before).split_once('?').map_or("", |(_, q)| q));
    for part in [t.source, t.medium, t.campaign, query, url.map(through_host), t.referrer.map(through_host)] {
        // Length-prefixed, so no text can pass for another split.
        match part {
            None => key.push('-'),
            Some(p) => {
                let _ = write!(key, "{}:", p.len());
                key.push_str(p);
            }
        }
    }
}

/// A URL up to the end of its host and port: all of it that [`url_host`]
/// reads.
fn through_host(url: &str) -> &str {
    let s = url.trim();
    let rest = match s.find("://") {
        Some(i) if is_scheme(&s[..i]) => &s[i + 3..],
        _ => s.strip_prefix("//").unwrap_or(s),
    };
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    &s[..s.len() - rest.len() + end]
}

/// [`SourceMedium`] borrowing from the traffic where it can.
struct Resolved<'a> {
    source: Cow<'a, str>,
    medium: Cow<'a, str>,
    campaign: Option<Cow<'a, str>>,
}

/// The rules of [`source_medium`]: the URL's query is read once.
fn resolve<'a>(t: &Traffic<'a>, own_domains: &[String]) -> Option<Resolved<'a>> {
    let url = non_empty(t.url);
    let query = QueryFacts::of(url);
    let given = |v: Option<&'a str>| non_empty(v).map(Cow::Borrowed);
    let source = given(t.source).or_else(|| query.value(UTM_SOURCE));
    let medium = given(t.medium).or_else(|| query.value(UTM_MEDIUM));
    let campaign = given(t.campaign).or_else(|| query.value(UTM_CAMPAIGN));
    let derived = |source: &'static str, medium: &'static str, campaign| Resolved {
        source: Cow::Borrowed(source),
        medium: Cow::Borrowed(medium),
        campaign,
    };

    // 1. UTM values.
    if source.is_some() || medium.is_some() {
        return Some(Resolved {
            source: source.unwrap_or(Cow::Borrowed(NOT_SET)),
            medium: medium.unwrap_or(Cow::Borrowed(NOT_SET)),
            campaign,
        });
    }

    // 2. Click ids.
    if GOOGLE_CLICK_IDS.iter().any(|&k| query.has(k)) {
        return Some(derived("google", "cpc", campaign));
    }
    if query.has(MSCLKID) {
        return Some(derived("bing", "cpc", campaign));
    }

    // 3. External referrer.
    let referrer_host = non_empty(t.referrer).and_then(url_host);
    let internal = referrer_host.as_deref().is_some_and(|h| is_internal(h, own_domains) || self_referral(h, url));
    if let Some(host) = referrer_host.filter(|_| !internal) {
        let sm = from_referrer(&host, None);
        return Some(Resolved { source: Cow::Owned(sm.source), medium: Cow::Owned(sm.medium), campaign });
    }

    // 4. fbclid without an external referrer.
    if query.has(FBCLID) {
        return Some(derived("facebook.com", "referral", campaign));
    }

    // 5. Internal navigation.
    if internal {
        return None;
    }

    // 6. Direct, or nothing at all.
    if url.is_some() || campaign.is_some() {
        return Some(derived(DIRECT_SOURCE, NONE, campaign));
    }
    None
}

/// The query parameters the rules read, by index into [`QUERY_KEYS`].
const UTM_SOURCE: &str = "utm_source";
const UTM_MEDIUM: &str = "utm_medium";
const UTM_CAMPAIGN: &str = "utm_campaign";
const MSCLKID: &str = "msclkid";
const FBCLID: &str = "fbclid";
const QUERY_KEYS: [&str; 9] =
    [UTM_SOURCE, UTM_MEDIUM, UTM_CAMPAIGN, "gclid", "wbraid", "gbraid", "dclid", MSCLKID, FBCLID];

/// The first raw (still encoded) value of each of [`QUERY_KEYS`] in a
/// URL's query, found in one pass: what [`query_param`] finds for each.
struct QueryFacts<'a> {
    raw: [Option<&'a str>; QUERY_KEYS.len()],
}

impl<'a> QueryFacts<'a> {
    fn of(url: Option<&'a str>) -> QueryFacts<'a> {
        let mut raw = [None; QUERY_KEYS.len()];
        let query = url.and_then(|u| u.split_once('#').map_or(u, |(before, _)| before).split_once('?'));
        if let Some((_, query)) = query {
            let mut missing = QUERY_KEYS.len();
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let decoded;
                let k = if k.contains(['%', '+']) {
                    decoded = percent_decode(k, true);
                    decoded.trim()
                } else {
                    k.trim()
                };
                if let Some(i) = QUERY_KEYS.iter().position(|q| k.eq_ignore_ascii_case(q))
                    && raw[i].is_none()
                {
                    raw[i] = Some(v);
                    missing -= 1;
                    if missing == 0 {
                        break;
                    }
                }
            }
        }
        QueryFacts { raw }
    }

    /// The parameter's value, decoded and trimmed; `None` when absent or
    /// blank.
    fn value(&self, key: &str) -> Option<Cow<'a, str>> {
        let i = QUERY_KEYS.iter().position(|q| *q == key)?;
        let v = percent_decode(self.raw[i]?, true);
        let t = v.trim();
        if t.is_empty() {
            None
        } else if t.len() == v.len() {
            Some(Cow::Owned(v))
        } else {
            Some(Cow::Owned(t.to_owned()))
        }
    }

    fn has(&self, key: &str) -> bool {
        self.value(key).is_some()
    }
}

/// GA4 default channel group for a source/medium/campaign, exactly in
/// Google's evaluation order (the table in the module docs; first match
/// wins). Matching is case-insensitive; an empty source counts as
/// `(direct)` and an empty medium as `(not set)`.
pub fn default_channel_group(source: &str, medium: &str, campaign: Option<&str>) -> &'static str {
    let source_norm = normalize(source);
    let medium_norm = normalize(medium);
    let campaign = campaign.map(normalize).unwrap_or_default();
    let campaign = campaign.as_ref();
    let src = if source_norm.is_empty() { DIRECT_SOURCE } else { source_norm.as_ref() };
    let med = if medium_norm.is_empty() { NOT_SET } else { medium_norm.as_ref() };

    let category = source_category(src);
    let is = |c: SourceCategory| category == Some(c);
    let paid = is_paid_medium(med);
    let shopping_campaign = is_shopping_campaign(campaign);

    // 1. Direct: Source exactly matches "(direct)" AND Medium is one of
    //    ("(not set)", "(none)").
    if src == DIRECT_SOURCE && (med == NOT_SET || med == NONE) {
        return DIRECT;
    }
    // 2. Cross-network: Campaign Name contains "cross-network".
    if campaign.contains("cross-network") {
        return CROSS_NETWORK;
    }
    // 3. Paid Shopping: (Source matches a list of shopping sites OR Campaign
    //    Name matches regex ^(.*(([^a-df-z]|^)shop|shopping).*)$) AND Medium
    //    matches regex ^(.*cp.*|ppc|retargeting|paid.*)$.
    if (is(SourceCategory::Shopping) || shopping_campaign) && paid {
        return PAID_SHOPPING;
    }
    // 4. Paid Search: Source matches a list of search sites AND Medium ~ PAID.
    if is(SourceCategory::Search) && paid {
        return PAID_SEARCH;
    }
    // 5. Paid Social: Source matches a regex list of social sites AND Medium ~ PAID.
    if is(SourceCategory::Social) && paid {
        return PAID_SOCIAL;
    }
    // 6. Paid Video: Source matches a list of video sites AND Medium ~ PAID.
    if is(SourceCategory::Video) && paid {
        return PAID_VIDEO;
    }
    // 7. Display: Medium is one of ("display", "banner", "expandable",
    //    "interstitial", "cpm").
    if one_of(med, &["display", "banner", "expandable", "interstitial", "cpm"]) {
        return DISPLAY;
    }
    // 8. Paid Other: Medium matches regex ^(.*cp.*|ppc|retargeting|paid.*)$.
    if paid {
        return PAID_OTHER;
    }
    // 9. Organic Shopping: Source matches a list of shopping sites OR Campaign
    //    name matches regex ^(.*(([^a-df-z]|^)shop|shopping).*)$.
    if is(SourceCategory::Shopping) || shopping_campaign {
        return ORGANIC_SHOPPING;
    }
    // 10. Organic Social: Source matches a regex list of social sites OR
    //     Medium is one of ("social", "social-network", "social-media", "sm",
    //     "social network", "social media").
    if is(SourceCategory::Social)
        || one_of(med, &["social", "social-network", "social-media", "sm", "social network", "social media"])
    {
        return ORGANIC_SOCIAL;
    }
    // 11. Organic Video: Source matches a list of video sites OR Medium
    //     matches regex ^(.*video.*)$.
    if is(SourceCategory::Video) || med.contains("video") {
        return ORGANIC_VIDEO;
    }
    // 12. Organic Search: Source matches a list of search sites OR Medium
    //     exactly matches organic.
    if is(SourceCategory::Search) || med == "organic" {
        return ORGANIC_SEARCH;
    }
    // 13. Referral: Medium is one of ("referral", "app", or "link").
    if one_of(med, &["referral", "app", "link"]) {
        return REFERRAL;
    }
    // 14. Email: Source = email|e-mail|e_mail|e mail OR Medium = email|e-mail|e_mail|e mail.
    if one_of(src, EMAIL_VALUES) || one_of(med, EMAIL_VALUES) {
        return EMAIL;
    }
    // 15. Affiliates: Medium = affiliate.
    if med == "affiliate" {
        return AFFILIATES;
    }
    // 16. Audio: Medium exactly matches audio.
    if med == "audio" {
        return AUDIO;
    }
    // 17. SMS: Source exactly matches sms OR Medium exactly matches sms.
    if src == "sms" || med == "sms" {
        return SMS;
    }
    // 18. Mobile Push Notifications: Medium ends with "push" OR Medium
    //     contains "mobile" or "notification" OR Source exactly matches
    //     "firebase".
    if med.ends_with("push") || med.contains("mobile") || med.contains("notification") || src == "firebase" {
        return MOBILE_PUSH;
    }
    // 19. Unassigned: no other rule matched.
    UNASSIGNED
}

/// Convenience: [`source_medium`] then [`default_channel_group`]; `None` when
/// the event carries no traffic information.
pub fn classify(t: &Traffic<'_>, own_domains: &[String]) -> Option<&'static str> {
    let sm = resolve(t, own_domains)?;
    Some(default_channel_group(&sm.source, &sm.medium, sm.campaign.as_deref()))
}

// ---------------------------------------------------------------------------
// Source / medium helpers
// ---------------------------------------------------------------------------

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Trimmed and lower-cased (borrowed when it already is).
fn normalize(value: &str) -> Cow<'_, str> {
    let t = value.trim();
    if t.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(t.to_lowercase())
    } else {
        Cow::Borrowed(t)
    }
}

fn one_of(value: &str, options: &[&str]) -> bool {
    options.contains(&value)
}

fn derived(source: &str, medium: &str, campaign: Option<String>) -> SourceMedium {
    SourceMedium { source: source.to_owned(), medium: medium.to_owned(), campaign }
}

/// Source / medium for an external referrer host (already lower-cased).
fn from_referrer(host: &str, campaign: Option<String>) -> SourceMedium {
    let bare = host.strip_prefix("www.").unwrap_or(host);
    match search_engine_source(bare) {
        Some(engine) => SourceMedium { source: engine, medium: "organic".to_owned(), campaign },
        None => derived(bare, "referral", campaign),
    }
}

/// The organic source name of a search-engine host, or `None` when the host
/// is not a search front-end. Webmail and webmaster hosts that Google lists
/// under search (`mail.google.com`, `email.seznam.cz`, `webmaster.yandex.ru`)
/// are not searches: they stay referrals (and still land in Organic Search
/// through the source list, as in GA4).
fn search_engine_source(host: &str) -> Option<String> {
    if category_of_host(host) != Some(SourceCategory::Search) {
        return None;
    }
    let first_label = host.split('.').next().unwrap_or(host);
    if one_of(first_label, &["mail", "email", "webmaster"]) {
        return None;
    }
    let Some(reg) = split_registrable(host) else {
        return Some(host.to_owned());
    };
    if exact_category(reg.name) == Some(SourceCategory::Search) {
        Some(reg.name.to_owned())
    } else {
        Some(reg.domain.to_owned())
    }
}

/// Whether `host` is one of `own_domains` or a subdomain of one. Own domains
/// may be written as `example.com`, `www.example.com`, `*.example.com`,
/// `.example.com` or as a URL; a leading `www.` is ignored, so
/// `www.example.com` covers `example.com` and all its subdomains.
fn is_internal(host: &str, own_domains: &[String]) -> bool {
    own_domains.iter().any(|d| {
        let own = normalize_own_domain(d);
        !own.is_empty() && host_within(host, &own)
    })
}

fn normalize_own_domain(domain: &str) -> Cow<'_, str> {
    let d = domain.trim();
    let host: Cow<'_, str> = if d.contains('/') || d.contains(':') {
        Cow::Owned(url_host(d).unwrap_or_default())
    } else {
        normalize(d.trim_end_matches('.'))
    };
    let trim = |h: &str| -> std::ops::Range<usize> {
        let t = h.trim_start_matches("*.").trim_start_matches('.');
        let t = t.strip_prefix("www.").unwrap_or(t);
        h.len() - t.len()..h.len()
    };
    match host {
        Cow::Borrowed(h) => Cow::Borrowed(&h[trim(h)]),
        Cow::Owned(h) => Cow::Owned(h[trim(&h)].to_owned()),
    }
}

/// GA4's automatic self-referral detection: the referrer's host is the
/// page's own domain (its host without `www.`) or a subdomain of it, so a
/// click from one page of the site to another is internal navigation even
/// when no own domains are configured.
fn self_referral(referrer_host: &str, page_url: Option<&str>) -> bool {
    let Some(page) = page_url.and_then(url_host) else { return false };
    let domain = page.strip_prefix("www.").unwrap_or(&page);
    let referrer = referrer_host.strip_prefix("www.").unwrap_or(referrer_host);
    !domain.is_empty() && host_within(referrer, domain)
}

/// `host` equals `domain` or is a subdomain of it.
fn host_within(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes().get(host.len() - domain.len() - 1) == Some(&b'.')
}

// ---------------------------------------------------------------------------
// Medium and campaign patterns (GA4's regexes, by hand)
// ---------------------------------------------------------------------------

/// `^(.*cp.*|ppc|retargeting|paid.*)$`
fn is_paid_medium(medium: &str) -> bool {
    medium.contains("cp") || medium == "ppc" || medium == "retargeting" || medium.starts_with("paid")
}

/// `^(.*(([^a-df-z]|^)shop|shopping).*)$`: "shopping" anywhere, or "shop" at
/// the start or after a character other than a-d and f-z (so "eshop",
/// "summer_shop", "2024shop" match, "workshop" does not). `campaign` is
/// lower-cased.
fn is_shopping_campaign(campaign: &str) -> bool {
    if campaign.contains("shopping") {
        return true;
    }
    campaign
        .match_indices("shop")
        .any(|(i, _)| campaign[..i].chars().next_back().is_none_or(|p| !matches!(p, 'a'..='d' | 'f'..='z')))
}

// ---------------------------------------------------------------------------
// Source categories
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceCategory {
    Search,
    Social,
    Video,
    Shopping,
}

/// GA4's "source matches a list of … sites" for a lower-cased, trimmed
/// source. In order:
///
/// 1. the source equals a name on Google's list (`google`, `t.co`,
///    `google shopping`, `l.facebook.com`, …);
/// 2. otherwise, if it looks like a host or URL (contains a dot, no
///    whitespace), its host is matched by `category_of_host`.
fn source_category(source: &str) -> Option<SourceCategory> {
    if let Some(c) = exact_category(source) {
        return Some(c);
    }
    if !source.contains('.') || source.chars().any(char::is_whitespace) {
        return None;
    }
    let host = url_host(source)?;
    category_of_host(&host)
}

/// Category of a lower-cased host name:
///
/// 1. the host, then the host without a leading `www.`, on Google's list;
/// 2. a subdomain of a listed registrable domain takes that domain's
///    category (`de.pinterest.com`, `foo.blogspot.com`, `uk.linkedin.com`),
///    except that a listed *search* domain only covers its search front-ends
///    (`m.`, `search.`, `images.`, …; see `is_search_surface`), so
///    `docs.google.com` is not a search engine;
/// 3. a registrable name in `family_category` (the brands that Google lists
///    bare and that run one site under many public suffixes: `google.co.uk`,
///    `yandex.com.tr`, `amazon.de`, `bing.com`, `duckduckgo.com`), under the
///    same front-end restriction for search.
///
/// Bare names of Google's list that are not such brands (`cnn`, `globo`,
/// `ask`, `terra`, `ig`, …) only ever match as exact sources, so a referral
/// from `cnn.com` stays a referral.
fn category_of_host(host: &str) -> Option<SourceCategory> {
    if let Some(c) = exact_category(host) {
        return Some(c);
    }
    let bare = host.strip_prefix("www.").unwrap_or(host);
    if let Some(c) = exact_category(bare) {
        return Some(c);
    }
    let reg = split_registrable(bare)?;
    let front_end = reg.sub.is_empty() || is_search_surface(reg.sub);
    let domain_category = if reg.sub.is_empty() { None } else { exact_category(reg.domain) };
    if let Some(c) = domain_category.filter(|&c| c != SourceCategory::Search || front_end) {
        return Some(c);
    }
    match family_category(reg.name) {
        Some(SourceCategory::Search) if !front_end => None,
        other => other,
    }
}

/// Subdomain parts under which a search engine serves search: the label
/// nearest the registrable domain is one of these (`m`, `search`,
/// `uk.search`, `images`, `html`/`lite` for DuckDuckGo's plain pages).
fn is_search_surface(sub: &str) -> bool {
    let nearest = sub.rsplit('.').next().unwrap_or(sub);
    one_of(nearest, &["www", "m", "mobile", "search", "images", "html", "lite"])
}

/// Brand names, each listed bare on Google's list in this category, whose
/// site runs under many public suffixes or subdomains. Used for host forms
/// only (`google.co.uk`, `www.bing.com`, `ebay.fr`, `pinterest.dk`).
fn family_category(name: &str) -> Option<SourceCategory> {
    match name {
        "baidu" | "bing" | "daum" | "dogpile" | "duckduckgo" | "google" | "naver" | "qwant" | "rambler" | "seznam"
        | "sogou" | "yahoo" | "yandex" => Some(SourceCategory::Search),
        "facebook" | "instagram" | "linkedin" | "pinterest" | "quora" | "reddit" | "snapchat" | "tiktok"
        | "tripadvisor" | "tumblr" | "twitter" | "whatsapp" | "yelp" => Some(SourceCategory::Social),
        "dailymotion" | "hulu" | "netflix" | "twitch" | "vimeo" | "youtube" => Some(SourceCategory::Video),
        "alibaba" | "amazon" | "ebay" | "etsy" | "mercadolibre" | "walmart" => Some(SourceCategory::Shopping),
        _ => None,
    }
}

/// Exact lookup in the lists.
fn exact_category(value: &str) -> Option<SourceCategory> {
    CATEGORIES.get(value).copied()
}

/// Every listed source and its category, looked up once per host rather
/// than searched list by list (each event's source and referrer are).
/// A source on two lists takes the earlier: search, social, video, shopping.
static CATEGORIES: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, SourceCategory>> =
    std::sync::LazyLock::new(|| {
        let mut all = rustc_hash::FxHashMap::default();
        for (list, category) in [
            (SEARCH_SOURCES, SourceCategory::Search),
            (SOCIAL_SOURCES, SourceCategory::Social),
            (EXTRA_SOCIAL_SOURCES, SourceCategory::Social),
            (VIDEO_SOURCES, SourceCategory::Video),
            (SHOPPING_SOURCES, SourceCategory::Shopping),
        ] {
            for &source in list {
                all.entry(source).or_insert(category);
            }
        }
        all
    });

/// A host split at its registrable domain: `a.b.google.co.uk` has
/// `sub = "a.b"`, `name = "google"`, `domain = "google.co.uk"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Registrable<'a> {
    sub: &'a str,
    name: &'a str,
    domain: &'a str,
}

/// Second-level labels that, under a two-letter country code, form a public
/// suffix (`co.uk`, `com.au`, `ne.jp`, `com.br`, `gob.mx`, …). A heuristic
/// in place of the full Public Suffix List, enough for the sites on
/// Google's list.
const SECOND_LEVEL_LABELS: &[&str] =
    &["ac", "co", "com", "edu", "go", "gob", "gov", "mil", "ne", "net", "nic", "or", "org"];

/// Split a lower-cased host at its registrable domain; `None` for a host
/// without a dot or with an empty label.
fn split_registrable(host: &str) -> Option<Registrable<'_>> {
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n < 2 || labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    let two_level_suffix = n >= 3 && labels[n - 1].len() == 2 && one_of(labels[n - 2], SECOND_LEVEL_LABELS);
    let suffix_labels = if two_level_suffix { 2 } else { 1 };
    let name_index = n - 1 - suffix_labels;
    let start: usize = labels[..name_index].iter().map(|l| l.len() + 1).sum();
    let domain = host.get(start..)?;
    let sub = if start == 0 { "" } else { host.get(..start - 1)? };
    Some(Registrable { sub, name: labels[name_index], domain })
}

// ---------------------------------------------------------------------------
// URL helpers
// ---------------------------------------------------------------------------

/// The host of a URL: scheme, userinfo, port, path, query and fragment
/// stripped; lower-cased; trailing dot removed. Accepts scheme-less
/// (`example.com/x`) and protocol-relative (`//example.com/x`) forms.
/// `None` when there is no plausible host (empty, bad characters, empty
/// labels, a non-numeric port). IPv6 literals are returned in brackets.
/// `www.` is kept here; callers strip it where GA4's lists need it.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let s = url.trim();
    let rest = match s.find("://") {
        Some(i) if is_scheme(&s[..i]) => &s[i + 3..],
        _ => s.strip_prefix("//").unwrap_or(s),
    };
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (inner, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p,
                None if after.is_empty() => "",
                None => return None,
            };
            if inner.is_empty() || !inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
                return None;
            }
            (format!("[{}]", inner.to_ascii_lowercase()), port)
        }
        None => {
            let (h, p) = host_port.split_once(':').unwrap_or((host_port, ""));
            let h = h.trim_end_matches('.').to_lowercase();
            let valid = !h.is_empty()
                && h.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
                && !h.split('.').any(str::is_empty);
            if !valid {
                return None;
            }
            (h, p)
        }
    };
    if !port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(host)
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986).
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The first value of query parameter `key` in `url` (the part between `?`
/// and `#`), percent-decoded with `+` as a space. Keys compare ASCII
/// case-insensitively after decoding. Invalid UTF-8 becomes U+FFFD. The
/// reference that [`QueryFacts`] (one pass for all the keys the rules
/// read) is tested against.
#[cfg(test)]
fn query_param(url: &str, key: &str) -> Option<String> {
    let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
    let (_, query) = without_fragment.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // A name with nothing encoded is compared as it is (no copy).
        let matches = if k.contains(['%', '+']) {
            percent_decode(k, true).trim().eq_ignore_ascii_case(key)
        } else {
            k.trim().eq_ignore_ascii_case(key)
        };
        matches.then(|| percent_decode(v, true))
    })
}

// ---------------------------------------------------------------------------
// Source category lists
// ---------------------------------------------------------------------------
//
// Google's "source categories" list for the GA4 default channel group (linked
// from https://support.google.com/analytics/answer/9756891), as published in
// Velir/dbt-ga4 `seeds/ga4_source_categories.csv` (819 rows). Lower-cased
// ("Google Shopping" -> "google shopping", "IGShopping" -> "igshopping") and
// sorted by byte order (easy to compare with the source); a unit test checks
// the order.

/// `SOURCE_CATEGORY_SEARCH` (131 entries).
#[rustfmt::skip]
const SEARCH_SOURCES: &[&str] = &[
    "360.cn", "alice", "aol", "ar.search.yahoo.com", "ask", "at.search.yahoo.com",
    "au.search.yahoo.com", "auone", "avg", "babylon", "baidu", "biglobe", "biglobe.co.jp",
    "biglobe.ne.jp", "bing", "br.search.yahoo.com", "ca.search.yahoo.com", "centrum.cz",
    "ch.search.yahoo.com", "cl.search.yahoo.com", "cn.bing.com", "cnn", "co.search.yahoo.com",
    "comcast", "conduit", "cse.google.com", "daum", "daum.net", "de.search.yahoo.com",
    "dk.search.yahoo.com", "dogpile", "dogpile.com", "duckduckgo", "ecosia.org", "email.seznam.cz",
    "eniro", "es.search.yahoo.com", "espanol.search.yahoo.com", "exalead.com", "excite.com",
    "fi.search.yahoo.com", "firmy.cz", "fr.search.yahoo.com", "globo", "go.mail.ru", "google",
    "google-play", "google.com", "googlemybusiness", "hk.search.yahoo.com", "id.search.yahoo.com",
    "in.search.yahoo.com", "incredimail", "it.search.yahoo.com", "kvasir", "lite.qwant.com",
    "lycos", "m.baidu.com", "m.naver.com", "m.search.naver.com", "m.sogou.com", "mail.google.com",
    "mail.rambler.ru", "mail.yandex.ru", "malaysia.search.yahoo.com", "msn", "msn.com",
    "mx.search.yahoo.com", "najdi", "naver", "naver.com", "news.google.com", "nl.search.yahoo.com",
    "no.search.yahoo.com", "ntp.msn.com", "nz.search.yahoo.com", "onet", "onet.pl",
    "pe.search.yahoo.com", "ph.search.yahoo.com", "pl.search.yahoo.com", "qwant", "qwant.com",
    "rakuten", "rakuten.co.jp", "rambler", "rambler.ru", "se.search.yahoo.com", "search-results",
    "search.aol.co.uk", "search.aol.com", "search.google.com", "search.smt.docomo.ne.jp",
    "search.ukr.net", "secureurl.ukr.net", "seznam", "seznam.cz", "sg.search.yahoo.com", "so.com",
    "sogou", "sogou.com", "sp-web.search.auone.jp", "startsiden", "startsiden.no", "suche.aol.de",
    "terra", "th.search.yahoo.com", "tr.search.yahoo.com", "tut.by", "tw.search.yahoo.com",
    "uk.search.yahoo.com", "ukr", "us.search.yahoo.com", "virgilio", "vn.search.yahoo.com",
    "wap.sogou.com", "webmaster.yandex.ru", "websearch.rakuten.co.jp", "yahoo", "yahoo.co.jp",
    "yahoo.com", "yandex", "yandex.by", "yandex.com", "yandex.com.tr", "yandex.fr", "yandex.kz",
    "yandex.ru", "yandex.ua", "yandex.uz", "zen.yandex.ru",
];

/// `SOURCE_CATEGORY_SOCIAL` (590 entries).
#[rustfmt::skip]
const SOCIAL_SOURCES: &[&str] = &[
    "43things", "43things.com", "51.com", "5ch.net", "academia.edu", "activerain", "activerain.com",
    "activeworlds", "activeworlds.com", "addthis", "addthis.com", "airg.ca", "allnurses.com",
    "allrecipes.com", "alumniclass", "alumniclass.com", "ameba.jp", "ameblo.jp", "americantowns",
    "americantowns.com", "amp.reddit.com", "ancestry.com", "anobii", "anobii.com", "answerbag",
    "answerbag.com", "answers.yahoo.com", "aolanswers", "aolanswers.com", "apps.facebook.com",
    "ar.pinterest.com", "artstation.com", "askubuntu", "askubuntu.com", "asmallworld.com",
    "athlinks", "athlinks.com", "away.vk.com", "awe.sm", "b.hatena.ne.jp", "baby-gaga",
    "baby-gaga.com", "babyblog.ru", "badoo", "badoo.com", "bebo", "bebo.com", "beforeitsnews",
    "beforeitsnews.com", "bharatstudent", "bharatstudent.com", "biip.no", "biswap.org", "bit.ly",
    "blackcareernetwork.com", "blackplanet", "blackplanet.com", "blip.fm", "blog.com",
    "blog.feedspot.com", "blog.goo.ne.jp", "blog.naver.com", "blog.yahoo.co.jp", "blogg.no",
    "bloggang.com", "blogger", "blogger.com", "blogher", "blogher.com", "bloglines",
    "bloglines.com", "blogs.com", "blogsome", "blogsome.com", "blogspot", "blogspot.com",
    "blogster", "blogster.com", "blurtit", "blurtit.com", "bookmarks.yahoo.co.jp",
    "bookmarks.yahoo.com", "br.pinterest.com", "brightkite", "brightkite.com", "brizzly",
    "brizzly.com", "business.facebook.com", "buzzfeed", "buzzfeed.com", "buzznet", "buzznet.com",
    "cafe.naver.com", "cafemom", "cafemom.com", "camospace", "camospace.com", "canalblog.com",
    "care.com", "care2", "care2.com", "caringbridge.org", "catster", "catster.com", "cbnt.io",
    "cellufun", "cellufun.com", "centerblog.net", "chat.zalo.me", "chegg.com", "chicagonow",
    "chicagonow.com", "chiebukuro.yahoo.co.jp", "classmates", "classmates.com", "classquest",
    "classquest.com", "co.pinterest.com", "cocolog-nifty", "cocolog-nifty.com",
    "copainsdavant.linternaute.com", "couchsurfing.org", "cozycot", "cozycot.com", "cross.tv",
    "crunchyroll", "crunchyroll.com", "cyworld", "cyworld.com", "cz.pinterest.com",
    "d.hatena.ne.jp", "dailystrength.org", "deluxe.com", "deviantart", "deviantart.com", "dianping",
    "dianping.com", "digg", "digg.com", "diigo", "diigo.com", "discover.hubpages.com", "disqus",
    "disqus.com", "dogster", "dogster.com", "dol2day", "dol2day.com", "doostang", "doostang.com",
    "dopplr", "dopplr.com", "douban", "douban.com", "draft.blogger.com", "draugiem.lv",
    "drugs-forum", "drugs-forum.com", "dzone", "dzone.com", "edublogs.org", "elftown",
    "elftown.com", "epicurious.com", "everforo.com", "exblog.jp", "extole", "extole.com",
    "facebook", "facebook.com", "faceparty", "faceparty.com", "fandom.com", "fanpop", "fanpop.com",
    "fark", "fark.com", "fb", "fb.me", "fc2", "fc2.com", "feedspot", "feministing",
    "feministing.com", "filmaffinity", "filmaffinity.com", "flickr", "flickr.com", "flipboard",
    "flipboard.com", "folkdirect", "folkdirect.com", "foodservice", "foodservice.com",
    "forums.androidcentral.com", "forums.crackberry.com", "forums.imore.com", "forums.nexopia.com",
    "forums.webosnation.com", "forums.wpcentral.com", "fotki", "fotki.com", "fotolog",
    "fotolog.com", "foursquare", "foursquare.com", "free.facebook.com", "friendfeed",
    "friendfeed.com", "fruehstueckstreff.org", "fubar", "fubar.com", "gaiaonline", "gaiaonline.com",
    "gamerdna", "gamerdna.com", "gather.com", "geni.com", "getpocket.com", "glassboard",
    "glassboard.com", "glassdoor", "glassdoor.com", "godtube", "godtube.com", "goldenline.pl",
    "goldstar", "goldstar.com", "goo.gl", "gooblog", "goodreads", "goodreads.com", "google+",
    "googlegroups.com", "googleplus", "govloop", "govloop.com", "gowalla", "gowalla.com", "gree.jp",
    "groups.google.com", "gulli.com", "gutefrage.net", "habbo", "habbo.com", "hatena", "hi5",
    "hi5.com", "hootsuite", "hootsuite.com", "houzz", "houzz.com", "hoverspot", "hoverspot.com",
    "hr.com", "hu.pinterest.com", "hubculture", "hubculture.com", "hubpages.com", "hyves.net",
    "hyves.nl", "ibibo", "ibibo.com", "id.pinterest.com", "identi.ca", "ig", "imageshack",
    "imageshack.com", "imageshack.us", "imvu", "imvu.com", "in.pinterest.com", "insanejournal",
    "insanejournal.com", "instagram", "instagram.com", "instapaper", "instapaper.com",
    "internations.org", "interpals.net", "intherooms", "intherooms.com", "irc-galleria.net",
    "is.gd", "italki", "italki.com", "jammerdirect", "jammerdirect.com", "jappy.com", "jappy.de",
    "kaboodle.com", "kakao", "kakao.com", "kakaocorp.com", "kaneva", "kaneva.com", "kin.naver.com",
    "l.facebook.com", "l.instagram.com", "l.messenger.com", "last.fm", "librarything",
    "librarything.com", "lifestream.aol.com", "line", "line.me", "linkedin", "linkedin.com",
    "listal", "listal.com", "listography", "listography.com", "livedoor.com", "livedoorblog",
    "livejournal", "livejournal.com", "lm.facebook.com", "lnkd.in", "m.blog.naver.com",
    "m.cafe.naver.com", "m.facebook.com", "m.kin.naver.com", "m.vk.com", "m.yelp.com", "mbga.jp",
    "medium.com", "meetin.org", "meetup", "meetup.com", "meinvz.net", "meneame.net", "menuism.com",
    "messages.google.com", "messages.yahoo.co.jp", "messenger", "messenger.com", "mix.com",
    "mixi.jp", "mobile.facebook.com", "mocospace", "mocospace.com", "mouthshut", "mouthshut.com",
    "movabletype", "movabletype.com", "mubi", "mubi.com", "my.opera.com", "myanimelist.net",
    "myheritage", "myheritage.com", "mylife", "mylife.com", "mymodernmet", "mymodernmet.com",
    "myspace", "myspace.com", "netvibes", "netvibes.com", "news.ycombinator.com", "newsshowcase",
    "nexopia", "ngopost.org", "niconico", "nicovideo.jp", "nightlifelink", "nightlifelink.com",
    "ning", "ning.com", "nl.pinterest.com", "odnoklassniki.ru", "odnoklassniki.ua", "okwave.jp",
    "old.reddit.com", "oneworldgroup.org", "onstartups", "onstartups.com", "opendiary",
    "opendiary.com", "oshiete.goo.ne.jp", "out.reddit.com", "over-blog.com", "overblog.com",
    "paper.li", "partyflock.nl", "photobucket", "photobucket.com", "pinboard", "pinboard.in",
    "pingsta", "pingsta.com", "pinterest", "pinterest.at", "pinterest.ca", "pinterest.ch",
    "pinterest.cl", "pinterest.co.kr", "pinterest.co.uk", "pinterest.com", "pinterest.com.au",
    "pinterest.com.mx", "pinterest.de", "pinterest.es", "pinterest.fr", "pinterest.it",
    "pinterest.jp", "pinterest.nz", "pinterest.ph", "pinterest.pt", "pinterest.ru", "pinterest.se",
    "pixiv.net", "pl.pinterest.com", "playahead.se", "plurk", "plurk.com", "plus.google.com",
    "plus.url.google.com", "pocket.co", "posterous", "posterous.com", "pro.homeadvisor.com",
    "pulse.yahoo.com", "qapacity", "qapacity.com", "quechup", "quechup.com", "quora", "quora.com",
    "qzone.qq.com", "ravelry", "ravelry.com", "reddit", "reddit.com", "redux", "redux.com",
    "renren", "renren.com", "researchgate.net", "reunion", "reunion.com", "reverbnation",
    "reverbnation.com", "rtl.de", "ryze", "ryze.com", "salespider", "salespider.com", "scoop.it",
    "screenrant", "screenrant.com", "scribd", "scribd.com", "scvngr", "scvngr.com", "secondlife",
    "secondlife.com", "serverfault", "serverfault.com", "shareit", "sharethis", "sharethis.com",
    "shvoong.com", "sites.google.com", "skype", "skyrock", "skyrock.com", "slashdot.org",
    "slideshare.net", "smartnews.com", "snapchat", "snapchat.com", "sociallife.com.br",
    "socialvibe", "socialvibe.com", "spaces.live.com", "spoke", "spoke.com", "spruz", "spruz.com",
    "ssense.com", "stackapps", "stackapps.com", "stackexchange", "stackexchange.com",
    "stackoverflow", "stackoverflow.com", "stardoll.com", "stickam", "stickam.com", "studivz.net",
    "suomi24.fi", "superuser", "superuser.com", "sweeva", "sweeva.com", "t.co", "t.me", "tagged",
    "tagged.com", "taggedmail", "taggedmail.com", "talkbiznow", "talkbiznow.com", "taringa.net",
    "techmeme", "techmeme.com", "tencent", "tencent.com", "tiktok", "tiktok.com", "tinyurl",
    "tinyurl.com", "toolbox", "toolbox.com", "touch.facebook.com", "tr.pinterest.com",
    "travellerspoint", "travellerspoint.com", "tripadvisor", "tripadvisor.com", "trombi",
    "trombi.com", "tudou", "tudou.com", "tuenti", "tuenti.com", "tumblr", "tumblr.com", "tweetdeck",
    "tweetdeck.com", "twitter", "twitter.com", "twoo.com", "typepad", "typepad.com", "unblog.fr",
    "urbanspoon.com", "ushareit.com", "ushi.cn", "vampirefreaks", "vampirefreaks.com",
    "vampirerave", "vampirerave.com", "vg.no", "video.ibm.com", "vk.com", "vkontakte.ru", "wakoopa",
    "wakoopa.com", "wattpad", "wattpad.com", "web.facebook.com", "web.skype.com", "webshots",
    "webshots.com", "wechat", "wechat.com", "weebly", "weebly.com", "weibo", "weibo.com",
    "wer-weiss-was.de", "weread", "weread.com", "whatsapp", "whatsapp.com", "wiki.answers.com",
    "wikihow.com", "wikitravel.org", "woot.com", "wordpress", "wordpress.com", "wordpress.org",
    "xanga", "xanga.com", "xing", "xing.com", "yahoo-mbga.jp", "yammer", "yammer.com", "yelp",
    "yelp.co.uk", "yelp.com", "youroom.in", "za.pinterest.com", "zalo", "zoo.gr", "zooppa",
    "zooppa.com",
];

/// `SOURCE_CATEGORY_VIDEO` (46 entries).
#[rustfmt::skip]
const VIDEO_SOURCES: &[&str] = &[
    "blog.twitch.tv", "crackle", "crackle.com", "curiositystream", "curiositystream.com", "d.tube",
    "dailymotion", "dailymotion.com", "dashboard.twitch.tv", "disneyplus", "disneyplus.com",
    "fast.wistia.net", "help.hulu.com", "help.netflix.com", "hulu", "hulu.com", "id.twitch.tv",
    "iq.com", "iqiyi", "iqiyi.com", "jobs.netflix.com", "justin.tv", "m.twitch.tv", "m.youtube.com",
    "music.youtube.com", "netflix", "netflix.com", "player.twitch.tv", "player.vimeo.com", "ted",
    "ted.com", "twitch", "twitch.tv", "utreon", "utreon.com", "veoh", "veoh.com",
    "viadeo.journaldunet.com", "vimeo", "vimeo.com", "wistia", "wistia.com", "youku", "youku.com",
    "youtube", "youtube.com",
];

/// `SOURCE_CATEGORY_SHOPPING` (52 entries).
#[rustfmt::skip]
const SHOPPING_SOURCES: &[&str] = &[
    "aax-us-east.amazon-adsystem.com", "aax.amazon-adsystem.com", "alibaba", "alibaba.com",
    "amazon", "amazon.co.uk", "amazon.com", "apps.shopify.com", "checkout.shopify.com",
    "checkout.stripe.com", "cr.shopping.naver.com", "cr2.shopping.naver.com", "ebay", "ebay.co.uk",
    "ebay.com", "ebay.com.au", "ebay.de", "etsy", "etsy.com", "google shopping", "igshopping",
    "m.alibaba.com", "m.shopping.naver.com", "mercadolibre", "mercadolibre.com",
    "mercadolibre.com.ar", "mercadolibre.com.mx", "message.alibaba.com",
    "msearch.shopping.naver.com", "nl.shopping.net", "no.shopping.net", "offer.alibaba.com",
    "one.walmart.com", "order.shopping.yahoo.co.jp", "partners.shopify.com", "s3.amazonaws.com",
    "se.shopping.net", "shop.app", "shopify", "shopify.com", "shopping.naver.com",
    "shopping.yahoo.co.jp", "shopping.yahoo.com", "shopzilla", "shopzilla.com", "simplycodes.com",
    "store.shopping.yahoo.co.jp", "stripe", "stripe.com", "uk.shopping.net", "walmart",
    "walmart.com",
];

/// Wayfarer's one addition, not on Google's list: `x.com`, Twitter's domain
/// since 2023 (most clicks from X still arrive from `t.co`, which is listed).
const EXTRA_SOCIAL_SOURCES: &[&str] = &["x.com"];

#[cfg(test)]
mod tests {
    use super::SourceCategory::{Search, Shopping, Social, Video};
    use super::*;

    fn dcg(source: &str, medium: &str) -> &'static str {
        default_channel_group(source, medium, None)
    }

    fn own() -> Vec<String> {
        vec!["example.com".to_string()]
    }

    fn sm(source: &str, medium: &str, campaign: Option<&str>) -> Option<SourceMedium> {
        Some(SourceMedium {
            source: source.to_string(),
            medium: medium.to_string(),
            campaign: campaign.map(str::to_string),
        })
    }

    // --- one case (or more) per channel -----------------------------------

    #[test]
    fn direct() {
        assert_eq!(dcg("(direct)", "(none)"), "Direct");
        assert_eq!(dcg("(direct)", "(not set)"), "Direct");
        assert_eq!(dcg("", ""), "Direct");
        let t = Traffic { url: Some("https://example.com/pricing"), ..Traffic::default() };
        assert_eq!(source_medium(&t, &own()), sm("(direct)", "(none)", None));
        assert_eq!(classify(&t, &own()), Some("Direct"));
    }

    #[test]
    fn cross_network() {
        assert_eq!(default_channel_group("google", "cpc", Some("PMax Cross-Network Q3")), "Cross-network");
        assert_eq!(default_channel_group("some-source", "some-medium", Some("cross-network")), "Cross-network");
    }

    #[test]
    fn paid_shopping() {
        assert_eq!(dcg("amazon", "cpc"), "Paid Shopping");
        assert_eq!(dcg("Google Shopping", "paid"), "Paid Shopping");
        assert_eq!(default_channel_group("some-source", "retargeting", Some("shopping")), "Paid Shopping");
        assert_eq!(default_channel_group("some-source", "cpc", Some("shop-2024")), "Paid Shopping");
        assert_eq!(default_channel_group("some-source", "cpc", Some("spring_shop")), "Paid Shopping");
        assert_eq!(default_channel_group("some-source", "cpc", Some("eshop")), "Paid Shopping");
        // "shop" after a letter other than "e" is not a shopping campaign.
        assert_eq!(default_channel_group("some-source", "cpc", Some("workshop")), "Paid Other");
    }

    #[test]
    fn paid_search() {
        assert_eq!(dcg("google", "cpc"), "Paid Search");
        assert_eq!(dcg("bing", "ppc"), "Paid Search");
        assert_eq!(dcg("www.google.co.uk", "cpc"), "Paid Search");
        assert_eq!(dcg("yahoo", "paidsearch"), "Paid Search");
    }

    #[test]
    fn paid_social() {
        assert_eq!(dcg("facebook", "paid_social"), "Paid Social");
        assert_eq!(dcg("facebook", "cpc"), "Paid Social");
        assert_eq!(dcg("l.facebook.com", "retargeting"), "Paid Social");
        assert_eq!(dcg("linkedin", "paid"), "Paid Social");
    }

    #[test]
    fn paid_video() {
        assert_eq!(dcg("youtube", "cpv"), "Paid Video");
        assert_eq!(dcg("youtube.com", "paid-something"), "Paid Video");
    }

    #[test]
    fn display() {
        assert_eq!(dcg("adnetwork", "display"), "Display");
        assert_eq!(dcg("adnetwork", "banner"), "Display");
        assert_eq!(dcg("adnetwork", "cpm"), "Display");
        assert_eq!(dcg("adnetwork", "interstitial"), "Display");
        assert_eq!(dcg("youtube.com", "display"), "Display");
    }

    #[test]
    fn paid_other() {
        assert_eq!(dcg("newsletter-partner", "cpc"), "Paid Other");
        assert_eq!(dcg("some-source", "ppc"), "Paid Other");
        assert_eq!(dcg("some-source", "paid_partner"), "Paid Other");
    }

    #[test]
    fn organic_shopping() {
        assert_eq!(dcg("amazon.com", "referral"), "Organic Shopping");
        assert_eq!(dcg("ebay.fr", "referral"), "Organic Shopping");
        assert_eq!(default_channel_group("some-source", "", Some("some-shopping-campaign")), "Organic Shopping");
        assert_eq!(default_channel_group("partner", "referral", Some("black-friday-shop")), "Organic Shopping");
    }

    #[test]
    fn organic_social() {
        let t =
            Traffic { url: Some("https://example.com/"), referrer: Some("https://t.co/AbCd123"), ..Traffic::default() };
        assert_eq!(source_medium(&t, &own()), sm("t.co", "referral", None));
        assert_eq!(classify(&t, &own()), Some("Organic Social"));
        assert_eq!(dcg("some-source", "social"), "Organic Social");
        assert_eq!(dcg("some-source", "sm"), "Organic Social");
        assert_eq!(dcg("de.pinterest.com", "referral"), "Organic Social");
        assert_eq!(dcg("x.com", "referral"), "Organic Social");
    }

    #[test]
    fn organic_video() {
        assert_eq!(dcg("vimeo.com", "referral"), "Organic Video");
        assert_eq!(dcg("some-source", "video-promo"), "Organic Video");
    }

    #[test]
    fn organic_search() {
        let t = Traffic {
            url: Some("https://example.com/"),
            referrer: Some("https://www.google.com/"),
            ..Traffic::default()
        };
        assert_eq!(source_medium(&t, &own()), sm("google", "organic", None));
        assert_eq!(classify(&t, &own()), Some("Organic Search"));
        assert_eq!(dcg("some-source", "organic"), "Organic Search");
        assert_eq!(dcg("bing", ""), "Organic Search");
    }

    #[test]
    fn referral() {
        assert_eq!(dcg("blog.example.org", "referral"), "Referral");
        assert_eq!(dcg("some-source", "app"), "Referral");
        assert_eq!(dcg("some-source", "link"), "Referral");
    }

    #[test]
    fn email() {
        assert_eq!(dcg("newsletter", "email"), "Email");
        assert_eq!(dcg("e-mail", "weekly"), "Email");
        assert_eq!(dcg("crm", "E Mail"), "Email");
        // Equality, not "contains" (see the module docs).
        assert_eq!(dcg("crm", "newsletter-email"), "Unassigned");
    }

    #[test]
    fn affiliates_audio_sms() {
        assert_eq!(dcg("partner", "affiliate"), "Affiliates");
        assert_eq!(dcg("spotify", "audio"), "Audio");
        assert_eq!(dcg("twilio", "sms"), "SMS");
        assert_eq!(dcg("sms", "(not set)"), "SMS");
    }

    #[test]
    fn mobile_push() {
        assert_eq!(dcg("app", "push"), "Mobile Push Notifications");
        assert_eq!(dcg("braze", "web-push"), "Mobile Push Notifications");
        assert_eq!(dcg("braze", "mobile"), "Mobile Push Notifications");
        assert_eq!(dcg("braze", "notification_daily"), "Mobile Push Notifications");
        assert_eq!(dcg("firebase", "(not set)"), "Mobile Push Notifications");
    }

    #[test]
    fn unassigned() {
        assert_eq!(default_channel_group("some-source", "some-medium", Some("some-campaign")), "Unassigned");
        assert_eq!(dcg("(not set)", "(not set)"), "Unassigned");
    }

    // --- order, case ------------------------------------------------------

    #[test]
    fn evaluation_order() {
        // Direct comes before Cross-network.
        assert_eq!(default_channel_group("(direct)", "(none)", Some("cross-network")), "Direct");
        // Cross-network wins over everything after Direct.
        assert_eq!(default_channel_group("facebook", "paid_social", Some("x-cross-network-y")), "Cross-network");
        // A shopping campaign with a paid medium is Paid Shopping, even from google.
        assert_eq!(default_channel_group("google", "cpc", Some("Summer Shopping")), "Paid Shopping");
        // "cpm" is a paid medium: Paid Search from a search source, Display otherwise.
        assert_eq!(dcg("google", "cpm"), "Paid Search");
        // Source categories come before Referral and Email.
        assert_eq!(dcg("google", "referral"), "Organic Search");
        assert_eq!(dcg("facebook.com", "email"), "Organic Social");
        // Referral before Email, SMS and push.
        assert_eq!(dcg("email", "referral"), "Referral");
        assert_eq!(dcg("sms", "referral"), "Referral");
        // Paid Other before the organic rules.
        assert_eq!(default_channel_group("newsletter", "cpc", Some("email")), "Paid Other");
        // The list order is Google's order.
        assert_eq!(GA4_CHANNELS.len(), 19);
        assert_eq!(GA4_CHANNELS.first(), Some(&"Direct"));
        assert_eq!(GA4_CHANNELS.last(), Some(&"Unassigned"));
        assert!(OFFLINE_CHANNELS.iter().all(|c| !GA4_CHANNELS.contains(c)));
    }

    #[test]
    fn case_insensitive() {
        assert_eq!(dcg("Google", "CPC"), "Paid Search");
        assert_eq!(dcg("FACEBOOK", "Paid_Social"), "Paid Social");
        assert_eq!(dcg("(DIRECT)", "(NONE)"), "Direct");
        assert_eq!(dcg("  YouTube ", " CPV "), "Paid Video");
        assert_eq!(dcg("Google Shopping", "Referral"), "Organic Shopping");
        assert_eq!(default_channel_group("x", "y", Some("CROSS-NETWORK")), "Cross-network");
        let t = Traffic { referrer: Some("HTTPS://WWW.BING.COM/search?q=x"), ..Traffic::default() };
        assert_eq!(source_medium(&t, &own()), sm("bing", "organic", None));
    }

    // --- source / medium derivation ----------------------------------------

    #[test]
    fn utm_parameters_in_url() {
        let t = Traffic {
            url: Some(
                "https://shop.example.com/p?utm_source=Newsletter&utm_medium=email&utm_campaign=spring%20sale#top",
            ),
            referrer: Some("https://mail.google.com/"),
            ..Traffic::default()
        };
        assert_eq!(source_medium(&t, &own()), sm("Newsletter", "email", Some("spring sale")));
        assert_eq!(classify(&t, &own()), Some("Email"));

        let plus = Traffic {
            url: Some("/landing?utm_campaign=spring+sale&UTM_SOURCE=fb&utm_medium=paid_social"),
            ..Traffic::default()
        };
        assert_eq!(source_medium(&plus, &[]), sm("fb", "paid_social", Some("spring sale")));
        assert_eq!(classify(&plus, &[]), Some("Paid Social"));
    }

    #[test]
    fn explicit_utm_wins_over_url_field_by_field() {
        let t = Traffic {
            source: Some("facebook"),
            medium: Some("paid_social"),
            url: Some("https://example.com/?utm_source=google&utm_medium=cpc&utm_campaign=from-url&gclid=abc"),
            ..Traffic::default()
        };
        assert_eq!(source_medium(&t, &own()), sm("facebook", "paid_social", Some("from-url")));

        let only_source = Traffic { source: Some("partner-site"), ..Traffic::default() };
        assert_eq!(source_medium(&only_source, &[]), sm("partner-site", "(not set)", None));
        let only_medium = Traffic { url: Some("https://example.com/?utm_medium=cpc"), ..Traffic::default() };
        assert_eq!(source_medium(&only_medium, &[]), sm("(not set)", "cpc", None));
        assert_eq!(classify(&only_medium, &[]), Some("Paid Other"));
    }

    #[test]
    fn click_ids() {
        let gclid = Traffic {
            url: Some("https://example.com/?gclid=Cj0KCQ"),
            referrer: Some("https://www.google.com/"),
            ..Traffic::default()
        };
        assert_eq!(source_medium(&gclid, &own()), sm("google", "cpc", None));
        assert_eq!(classify(&gclid, &own()), Some("Paid Search"));
        for id in ["wbraid", "gbraid", "dclid"] {
            let url = format!("https://example.com/?{id}=x");
            let t = Traffic { url: Some(url.as_str()), ..Traffic::default() };
            assert_eq!(classify(&t, &own()), Some("Paid Search"), "{id}");
        }
        let msclkid = Traffic { url: Some("https://example.com/?msclkid=abc"), ..Traffic::default() };
        assert_eq!(source_medium(&msclkid, &own()), sm("bing", "cpc", None));
        // An empty click id is no click id.
        let empty = Traffic { url: Some("https://example.com/?gclid="), ..Traffic::default() };
        assert_eq!(classify(&empty, &own()), Some("Direct"));
    }

    #[test]
    fn fbclid() {
        let bare = Traffic { url: Some("https://example.com/?fbclid=IwAR0"), ..Traffic::default() };
        assert_eq!(source_medium(&bare, &own()), sm("facebook.com", "referral", None));
        assert_eq!(classify(&bare, &own()), Some("Organic Social"));
        // An external referrer is more specific than fbclid.
        let insta = Traffic {
            url: Some("https://example.com/?fbclid=IwAR0"),
            referrer: Some("https://l.instagram.com/"),
            ..Traffic::default()
        };
        assert_eq!(source_medium(&insta, &own()), sm("l.instagram.com", "referral", None));
        // UTM says otherwise: UTM wins.
        let paid = Traffic {
            url: Some("https://example.com/?fbclid=IwAR0&utm_source=facebook&utm_medium=cpc"),
            ..Traffic::default()
        };
        assert_eq!(classify(&paid, &own()), Some("Paid Social"));
    }

    #[test]
    fn internal_referrer_returns_none() {
        let own = own();
        for referrer in [
            "https://www.example.com/page",
            "https://example.com/",
            "http://shop.example.com:8080/cart",
            "https://EXAMPLE.com.",
        ] {
            let t =
                Traffic { url: Some("https://example.com/checkout"), referrer: Some(referrer), ..Traffic::default() };
            assert_eq!(source_medium(&t, &own), None, "{referrer}");
            assert_eq!(classify(&t, &own), None, "{referrer}");
        }
        // Own domains written in other forms.
        let forms = vec!["https://www.example.com/".to_string(), "*.other.org".to_string()];
        let t = Traffic { referrer: Some("https://example.com/a"), ..Traffic::default() };
        assert_eq!(source_medium(&t, &forms), None);
        let t = Traffic { referrer: Some("https://a.other.org/a"), ..Traffic::default() };
        assert_eq!(source_medium(&t, &forms), None);
        // A look-alike domain is external.
        let t = Traffic { referrer: Some("https://notexample.com/"), ..Traffic::default() };
        assert_eq!(source_medium(&t, &own), sm("notexample.com", "referral", None));
    }

    #[test]
    fn a_referrer_from_the_page_own_site_is_internal_without_own_domains() {
        let none: Vec<String> = Vec::new();
        for (url, referrer) in [
            ("https://shop.example.org/cart", "https://shop.example.org/product/1"),
            ("https://www.example.org/", "https://example.org/blog"),
            ("https://example.org/", "https://blog.example.org/post"),
            ("https://www.example.org/a", "http://www.example.org:8080/b"),
        ] {
            let t = Traffic { url: Some(url), referrer: Some(referrer), ..Traffic::default() };
            assert_eq!(source_medium(&t, &none), None, "{url} from {referrer}");
        }
        // Another site, a parent domain of the page's, or no page URL: a referral.
        for (url, referrer, source) in [
            (Some("https://example.org/"), "https://example.com/", "example.com"),
            (Some("https://shop.example.org/"), "https://example.org/", "example.org"),
            (None, "https://example.org/", "example.org"),
        ] {
            let t = Traffic { url, referrer: Some(referrer), ..Traffic::default() };
            assert_eq!(source_medium(&t, &none), sm(source, "referral", None), "{url:?} from {referrer}");
        }
        // UTM values still win over a self-referral.
        let t = Traffic {
            url: Some("https://example.org/?utm_source=news&utm_medium=email"),
            referrer: Some("https://example.org/"),
            ..Traffic::default()
        };
        assert_eq!(classify(&t, &none), Some("Email"));
    }

    #[test]
    fn external_referrer_without_utm() {
        let t = Traffic {
            url: Some("https://example.com/"),
            referrer: Some("https://www.someblog.org/post?id=3"),
            ..Traffic::default()
        };
        assert_eq!(source_medium(&t, &own()), sm("someblog.org", "referral", None));
        assert_eq!(classify(&t, &own()), Some("Referral"));

        let hn = Traffic { referrer: Some("https://news.ycombinator.com/item?id=1"), ..Traffic::default() };
        assert_eq!(classify(&hn, &own()), Some("Organic Social"));

        // A UTM campaign alone is kept with the derived source.
        let t = Traffic {
            url: Some("https://example.com/?utm_campaign=launch"),
            referrer: Some("https://someblog.org/"),
            ..Traffic::default()
        };
        assert_eq!(source_medium(&t, &own()), sm("someblog.org", "referral", Some("launch")));
    }

    #[test]
    fn search_engine_referrers() {
        let cases = [
            ("https://www.google.co.uk/", "google", "organic"),
            ("https://images.google.de/imgres?x", "google", "organic"),
            ("https://www.bing.com/search?q=wayfarer", "bing", "organic"),
            ("https://duckduckgo.com/", "duckduckgo", "organic"),
            ("https://html.duckduckgo.com/html/", "duckduckgo", "organic"),
            ("https://search.yahoo.co.jp/search?p=x", "yahoo", "organic"),
            ("https://uk.search.yahoo.com/", "yahoo", "organic"),
            ("https://yandex.com.tr/", "yandex", "organic"),
            ("https://www.ecosia.org/search?q=x", "ecosia.org", "organic"),
            ("https://m.baidu.com/s?wd=x", "baidu", "organic"),
            ("https://go.mail.ru/search?q=x", "mail.ru", "organic"),
            ("https://docs.google.com/document/d/1", "docs.google.com", "referral"),
            ("https://news.yahoo.com/a", "news.yahoo.com", "referral"),
            ("https://mail.google.com/mail/u/0/", "mail.google.com", "referral"),
            ("https://edition.cnn.com/", "edition.cnn.com", "referral"),
        ];
        for (referrer, source, medium) in cases {
            let t = Traffic { referrer: Some(referrer), ..Traffic::default() };
            assert_eq!(source_medium(&t, &own()), sm(source, medium, None), "{referrer}");
        }
        // Google lists mail.google.com under search: a referral, yet Organic Search.
        let t = Traffic { referrer: Some("https://mail.google.com/"), ..Traffic::default() };
        assert_eq!(classify(&t, &own()), Some("Organic Search"));
        let t = Traffic { referrer: Some("https://docs.google.com/"), ..Traffic::default() };
        assert_eq!(classify(&t, &own()), Some("Referral"));
    }

    #[test]
    fn no_traffic_information() {
        assert_eq!(source_medium(&Traffic::default(), &own()), None);
        assert_eq!(classify(&Traffic::default(), &own()), None);
        let blank =
            Traffic { source: Some("  "), medium: Some(""), url: Some(" "), referrer: Some(""), campaign: None };
        assert_eq!(classify(&blank, &own()), None);
        // An unparsable referrer counts as absent.
        let t = Traffic { referrer: Some("not a url at all"), ..Traffic::default() };
        assert_eq!(classify(&t, &own()), None);
        let t = Traffic { url: Some("https://example.com/"), referrer: Some("(direct)"), ..Traffic::default() };
        assert_eq!(classify(&t, &own()), Some("Direct"));
    }

    // --- source categories, host matching ----------------------------------

    #[test]
    fn source_category_host_forms() {
        let cases: &[(&str, Option<SourceCategory>)] = &[
            ("google", Some(Search)),
            ("google.com", Some(Search)),
            ("www.google.com", Some(Search)),
            ("google.co.uk", Some(Search)),
            ("https://www.google.com.br/", Some(Search)),
            ("docs.google.com", None),
            ("bing.com", Some(Search)),
            ("cn.bing.com", Some(Search)),
            ("duckduckgo.com", Some(Search)),
            ("t.co", Some(Social)),
            ("l.facebook.com", Some(Social)),
            ("mbasic.facebook.com", Some(Social)),
            ("facebook.de", Some(Social)),
            ("uk.linkedin.com", Some(Social)),
            ("foo.blogspot.com", Some(Social)),
            ("sites.google.com", Some(Social)),
            ("answers.yahoo.com", Some(Social)),
            ("x.com", Some(Social)),
            ("youtube", Some(Video)),
            ("m.youtube.com", Some(Video)),
            ("studio.youtube.com", Some(Video)),
            ("vimeo.com", Some(Video)),
            ("amazon.de", Some(Shopping)),
            ("smile.amazon.com", Some(Shopping)),
            ("google shopping", Some(Shopping)),
            ("igshopping", Some(Shopping)),
            ("cnn", Some(Search)),
            ("cnn.com", None),
            ("globo.com", None),
            ("bucket.s3.amazonaws.com", None),
            ("example.com", None),
            ("newsletter", None),
            ("", None),
        ];
        for (source, expected) in cases {
            assert_eq!(source_category(source), *expected, "{source}");
        }
    }

    #[test]
    fn registrable_split() {
        let r = split_registrable("a.b.google.co.uk");
        assert_eq!(r, Some(Registrable { sub: "a.b", name: "google", domain: "google.co.uk" }));
        let r = split_registrable("t.co");
        assert_eq!(r, Some(Registrable { sub: "", name: "t", domain: "t.co" }));
        let r = split_registrable("m.baidu.com");
        assert_eq!(r, Some(Registrable { sub: "m", name: "baidu", domain: "baidu.com" }));
        assert_eq!(split_registrable("localhost"), None);
        assert_eq!(split_registrable("a..b"), None);
    }

    #[test]
    fn shopping_campaign_regex() {
        for yes in ["shop", "shopping", "eshop", "summer_shop", "2024shop", "myshopping", "shop now", "café·shop"] {
            assert!(is_shopping_campaign(yes), "{yes}");
        }
        for no in ["", "workshop", "bishop", "shp", "sho p"] {
            assert!(!is_shopping_campaign(no), "{no}");
        }
    }

    #[test]
    fn paid_medium_regex() {
        for yes in ["cpc", "cpm", "cpv", "ppc", "retargeting", "paid", "paid_social", "paidsearch", "xcpx"] {
            assert!(is_paid_medium(yes), "{yes}");
        }
        for no in ["", "pc", "ppcx", "retargeting2", "social-paid", "organic", "display"] {
            assert!(!is_paid_medium(no), "{no}");
        }
    }

    #[test]
    fn source_lists_sorted_lowercase_disjoint() {
        let lists: [&[&str]; 5] =
            [SEARCH_SOURCES, SOCIAL_SOURCES, VIDEO_SOURCES, SHOPPING_SOURCES, EXTRA_SOCIAL_SOURCES];
        for list in lists {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "not sorted: {list:?}");
            assert!(list.iter().all(|s| *s == s.to_lowercase().trim()), "not lower-case: {list:?}");
        }
        let google_total = SEARCH_SOURCES.len() + SOCIAL_SOURCES.len() + VIDEO_SOURCES.len() + SHOPPING_SOURCES.len();
        assert_eq!(google_total, 819);
        assert_eq!(CATEGORIES.len(), google_total + EXTRA_SOCIAL_SOURCES.len());
        assert_eq!(exact_category("x.com"), Some(SourceCategory::Social));
        assert_eq!(exact_category("google"), Some(SourceCategory::Search));
        assert_eq!(exact_category("youtube.com"), Some(SourceCategory::Video));
        assert_eq!(exact_category("shop.example"), None);
        for (i, a) in lists.iter().enumerate() {
            for b in lists.iter().skip(i + 1) {
                assert!(a.iter().all(|s| !b.contains(s)), "lists overlap");
            }
        }
    }

    // --- URL helpers, malformed input --------------------------------------

    #[test]
    fn url_host_parsing() {
        assert_eq!(url_host("https://user:pw@Example.COM:8443/x?y#z").as_deref(), Some("example.com"));
        assert_eq!(url_host("//cdn.example.com/a").as_deref(), Some("cdn.example.com"));
        assert_eq!(url_host("example.com/path").as_deref(), Some("example.com"));
        assert_eq!(url_host("https://www.example.com./").as_deref(), Some("www.example.com"));
        assert_eq!(url_host("https://[::1]:80/").as_deref(), Some("[::1]"));
        assert_eq!(url_host("android-app://com.google.android.gm/").as_deref(), Some("com.google.android.gm"));
        assert_eq!(url_host("https://bücher.de/").as_deref(), Some("bücher.de"));
        assert_eq!(url_host("https://example.com?q=http://other.com/").as_deref(), Some("example.com"));
        for bad in [
            "",
            "   ",
            "http://",
            "https://:80/",
            "http://a..b/",
            "http://exa mple.com/",
            "javascript:void(0)",
            "https://example.com:http/",
            "http://[::1",
            "http://[zz]/",
            "(direct)",
        ] {
            assert_eq!(url_host(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn traffics_with_one_classification_key_classify_alike() {
        let own = vec!["shop.example".to_string()];
        let sources = [None, Some("google"), Some(" Newsletter "), Some("")];
        let mediums = [None, Some("cpc"), Some("email")];
        let campaigns = [None, Some("summer-shop"), Some("cross-network")];
        let urls = [
            None,
            Some(""),
            Some("https://shop.example/a"),
            Some("https://shop.example/b"),
            Some("https://shop.example/a?utm_source=fb&utm_medium=paid_social"),
            Some("https://shop.example/b?utm_source=fb&utm_medium=paid_social#x"),
            Some("https://shop.example/c?gclid=1"),
            Some("https://shop.example/d#?gclid=1"),
            Some("https://shop.example/e?fbclid=2"),
            Some("https://blog.other.example/f"),
            Some("https://other.example/g"),
        ];
        let referrers = [
            None,
            Some(""),
            Some("https://shop.example/x"),
            Some("https://shop.example/y?q=1"),
            Some("HTTPS://WWW.Google.com/search?q=a"),
            Some("https://www.google.com/"),
            Some("//m.facebook.com\\x"),
            Some("l.instagram.com/p"),
            Some("https://user@news.example:8080/a"),
            Some("https://[::1]/"),
            Some("https://bad host/"),
            Some("mailto:someone"),
            Some("https://other.example/h"),
            Some("https://www.other.example/i"),
        ];
        let mut seen: std::collections::HashMap<String, Option<&str>> = std::collections::HashMap::new();
        let mut key = String::new();
        let mut distinct = 0;
        for source in sources {
            for medium in mediums {
                for campaign in campaigns {
                    for url in urls {
                        for referrer in referrers {
                            let t = Traffic { source, medium, campaign, url, referrer };
                            classification_key(&t, &mut key);
                            let group = classify(&t, &own);
                            match seen.get(&key) {
                                Some(g) => assert_eq!(*g, group, "{t:?} and an earlier traffic share key {key:?}"),
                                None => {
                                    distinct += 1;
                                    seen.insert(key.clone(), group);
                                }
                            }
                        }
                    }
                }
            }
        }
        // Paths are left out of the key, so it merges traffics.
        assert!(distinct < sources.len() * mediums.len() * campaigns.len() * urls.len() * referrers.len());
    }

    #[test]
    fn one_pass_over_the_query_finds_what_a_search_per_key_finds() {
        let urls = [
            "https://e.com/p?utm_source=a&utm_source=b&UTM_Medium=%20cpc%20&gclid=&gclid=x#fbclid=1",
            "https://e.com/p?utm%5Fsource=News+Letter&utm_campaign=a+b%2Bc&msclkid=9&fbclid=f",
            "https://e.com/p?utm_source=&utm_medium=+&wbraid=w&gbraid&dclid=%41",
            "https://e.com/p?%E2%82%AC=1&utm_campaign&&=&fbclid=%zz",
            "https://e.com/p#?utm_source=hidden",
            "https://e.com/p",
            "e.com?GCLID=1&FbClId=2&utm_source=%E2%82",
        ];
        for url in urls {
            let facts = QueryFacts::of(Some(url));
            for key in QUERY_KEYS {
                let expected = query_param(url, key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
                assert_eq!(facts.value(key).map(Cow::into_owned), expected, "{url} {key}");
            }
        }
        assert!(QueryFacts::of(None).raw.iter().all(Option::is_none));
    }

    #[test]
    fn query_param_decoding() {
        let url = "https://e.com/p?a=1&utm_source=News%20Letter&utm_campaign=a+b%2Bc&empty=&flag#utm_medium=x";
        assert_eq!(query_param(url, "utm_source").as_deref(), Some("News Letter"));
        assert_eq!(query_param(url, "utm_campaign").as_deref(), Some("a b+c"));
        assert_eq!(query_param(url, "empty").as_deref(), Some(""));
        assert_eq!(query_param(url, "flag").as_deref(), Some(""));
        assert_eq!(query_param(url, "utm_medium"), None);
        assert_eq!(query_param("https://e.com/", "a"), None);
        assert_eq!(percent_decode("100%", true), "100%");
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
        assert_eq!(percent_decode("%E2%82%AC", true), "€");
        assert_eq!(percent_decode("%E2%82", true), "\u{FFFD}");
    }

    #[test]
    fn malformed_input_does_not_panic() {
        let junk = [
            "",
            " ",
            "://",
            "http://",
            "http://@",
            "http://[",
            "https://[::1]:x/",
            "?&=&",
            "%%%",
            "%",
            "%e2%82",
            "é://ü",
            "a..b",
            ".",
            "...",
            "\u{0}",
            "日本語.jp",
            "https://例え.jp/パス?utm_source=テスト&utm_medium=%F0%9F",
            "?utm_source=&utm_medium=",
            "https://x.com/?gclid",
            "#?gclid=1",
            "www.",
            "www",
            "[::1]",
            "@@@",
            "a:b:c",
        ];
        let own = vec!["".to_string(), "  ".to_string(), "://".to_string(), "example.com".to_string()];
        for a in junk {
            let _ = source_category(a);
            let _ = url_host(a);
            let _ = query_param(a, "utm_source");
            let channel = default_channel_group(a, a, Some(a));
            assert!(GA4_CHANNELS.contains(&channel));
            for b in junk {
                let t = Traffic { source: None, medium: None, campaign: Some(b), url: Some(a), referrer: Some(b) };
                if let Some(c) = classify(&t, &own) {
                    assert!(GA4_CHANNELS.contains(&c), "{c}");
                }
                let t = Traffic { source: Some(a), medium: Some(b), campaign: None, url: Some(b), referrer: Some(a) };
                if let Some(c) = classify(&t, &own) {
                    assert!(GA4_CHANNELS.contains(&c), "{c}");
                }
            }
        }
    }
}
