//! The canonical event (DESIGN §2): one interaction, the same whether it came
//! from a file import or the HTTP API.

use serde::{Deserialize, Serialize};

/// The Segment call type of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Track,
    Page,
    Screen,
    Identify,
    Group,
    Alias,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::Track, Kind::Page, Kind::Screen, Kind::Identify, Kind::Group, Kind::Alias];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Track => "track",
            Kind::Page => "page",
            Kind::Screen => "screen",
            Kind::Identify => "identify",
            Kind::Group => "group",
            Kind::Alias => "alias",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "track" => Kind::Track,
            "page" => Kind::Page,
            "screen" => Kind::Screen,
            "identify" => Kind::Identify,
            "group" => Kind::Group,
            "alias" => Kind::Alias,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(c: u8) -> Kind {
        Kind::ALL.get(c as usize).copied().unwrap_or(Kind::Track)
    }

    /// Whether the event is a customer interaction (track, page, screen), as
    /// opposed to an identity or trait call (identify, group, alias). Sessions,
    /// stages and touchpoints consider interactions only.
    pub fn is_interaction(self) -> bool {
        matches!(self, Kind::Track | Kind::Page | Kind::Screen)
    }

    /// `is_interaction` on a stored kind code (track, page and screen are 0–2).
    pub fn code_is_interaction(code: u8) -> bool {
        code <= Kind::Screen as u8
    }

    pub fn is_view(self) -> bool {
        matches!(self, Kind::Page | Kind::Screen)
    }
}

/// Event name given to `page` calls.
pub const PAGE_VIEWED: &str = "Page Viewed";
/// Event name given to `screen` calls.
pub const SCREEN_VIEWED: &str = "Screen Viewed";
/// Event names given to identity calls, so every row has a name.
pub const IDENTIFY: &str = "Identify";
pub const GROUP: &str = "Group";
pub const ALIAS: &str = "Alias";

/// One event in canonical form. Timestamps are microseconds since the Unix
/// epoch, UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub timestamp: i64,
    pub received_at: i64,
    pub kind: Kind,
    pub event: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// For `alias` calls: the identity being merged into `user_id`.
    pub previous_id: Option<String>,
    pub channel: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub url: Option<String>,
    pub referrer: Option<String>,
    pub revenue: Option<f64>,
    pub score: Option<f64>,
    pub survey: Option<String>,
    pub text: Option<String>,
    /// Everything else, as a JSON object (traits for identify calls).
    pub properties: String,
}

impl Event {
    /// An empty track event, for builders and tests.
    pub fn new(event_id: impl Into<String>, timestamp: i64, event: impl Into<String>) -> Event {
        Event {
            event_id: event_id.into(),
            timestamp,
            received_at: timestamp,
            kind: Kind::Track,
            event: event.into(),
            user_id: None,
            anonymous_id: None,
            previous_id: None,
            channel: None,
            source: None,
            medium: None,
            campaign: None,
            url: None,
            referrer: None,
            revenue: None,
            score: None,
            survey: None,
            text: None,
            properties: "{}".to_string(),
        }
    }
}

/// The channel names GA4's default channel group can return, in Google's
/// evaluation order (the rules themselves live in `wayfarer-ingest`).
pub const GA4_CHANNELS: &[&str] = &[
    "Direct",
    "Cross-network",
    "Paid Shopping",
    "Paid Search",
    "Paid Social",
    "Paid Video",
    "Display",
    "Paid Other",
    "Organic Shopping",
    "Organic Social",
    "Organic Video",
    "Organic Search",
    "Referral",
    "Email",
    "Affiliates",
    "Audio",
    "SMS",
    "Mobile Push Notifications",
    "Unassigned",
];

/// Wayfarer's offline channels. They never come out of the GA4 rules, only
/// from an explicit `channel` property on the event.
pub const OFFLINE_CHANNELS: &[&str] = &["Phone", "Chat", "Store", "Support", "Direct Mail", "Events"];
