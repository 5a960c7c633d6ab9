//! The hidden model of the synthetic company: the five personas (shares,
//! stage transition probabilities, channel mixes, purchase processes, survey
//! tendencies, devices) and the marketing channels with their true effects on
//! the Decision→Purchase transition. Everything the ground truth reports about
//! the generative process comes from here.

/// A marketing or contact channel, named as GA4's default channel group (and
/// the offline channels) name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Channel {
    Direct,
    OrganicSearch,
    PaidSearch,
    Display,
    PaidSocial,
    OrganicSocial,
    Email,
    Affiliates,
    Referral,
    OrganicVideo,
    PaidShopping,
    Phone,
    Chat,
}

impl Channel {
    pub(crate) const ALL: [Channel; 13] = [
        Channel::Direct,
        Channel::OrganicSearch,
        Channel::PaidSearch,
        Channel::Display,
        Channel::PaidSocial,
        Channel::OrganicSocial,
        Channel::Email,
        Channel::Affiliates,
        Channel::Referral,
        Channel::OrganicVideo,
        Channel::PaidShopping,
        Channel::Phone,
        Channel::Chat,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Channel::Direct => "Direct",
            Channel::OrganicSearch => "Organic Search",
            Channel::PaidSearch => "Paid Search",
            Channel::Display => "Display",
            Channel::PaidSocial => "Paid Social",
            Channel::OrganicSocial => "Organic Social",
            Channel::Email => "Email",
            Channel::Affiliates => "Affiliates",
            Channel::Referral => "Referral",
            Channel::OrganicVideo => "Organic Video",
            Channel::PaidShopping => "Paid Shopping",
            Channel::Phone => "Phone",
            Channel::Chat => "Chat",
        }
    }

    /// True additive effect on the log-odds of Decision→Purchase, applied
    /// once for each distinct channel a customer touched before deciding.
    pub(crate) fn effect(self) -> f64 {
        match self {
            Channel::Email => 0.5,
            Channel::Referral => 0.4,
            Channel::PaidSearch => 0.3,
            Channel::OrganicSearch => 0.25,
            Channel::Affiliates => 0.2,
            Channel::Direct => 0.15,
            Channel::PaidShopping => 0.15,
            Channel::OrganicSocial => 0.05,
            Channel::PaidSocial => 0.0,
            Channel::Display => -0.05,
            Channel::OrganicVideo => 0.0,
            Channel::Phone => 0.6,
            Channel::Chat => 0.1,
        }
    }

    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Sum of the effects of the channels in a bit set.
pub(crate) fn effect_sum(touched: u16) -> f64 {
    Channel::ALL.iter().filter(|c| touched & c.bit() != 0).map(|c| c.effect()).sum()
}

/// Base probability `p` shifted by `delta` on the log-odds scale.
pub(crate) fn shift_logit(p: f64, delta: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    let z = (p / (1.0 - p)).ln() + delta;
    1.0 / (1.0 + (-z).exp())
}

/// Device platforms of a customer's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Platform {
    Desktop,
    MobileWeb,
    Ios,
    Android,
}

impl Platform {
    pub(crate) const ALL: [Platform; 4] = [Platform::Desktop, Platform::MobileWeb, Platform::Ios, Platform::Android];

    pub(crate) fn is_app(self) -> bool {
        matches!(self, Platform::Ios | Platform::Android)
    }

    pub(crate) fn is_mobile(self) -> bool {
        !matches!(self, Platform::Desktop)
    }
}

/// Index of each persona in [`PERSONAS`].
pub(crate) const DEAL_HUNTER: usize = 0;
pub(crate) const SOCIAL_BROWSER: usize = 2;
pub(crate) const BUSINESS_BUYER: usize = 3;

/// One hidden persona: who they are and how they behave.
#[derive(Debug)]
pub(crate) struct Persona {
    pub key: &'static str,
    pub name: &'static str,
    pub share: f64,
    /// Awareness→Consideration, →Decision, →Purchase, →Retention, →Advocacy.
    pub transitions: [f64; 5],
    /// Acquisition channel mix (shares sum to 1).
    pub channels: &'static [(Channel, f64)],
    /// Repeat-purchase process (BG/NBD): λ ~ Gamma(r, rate α) per day.
    pub r: f64,
    pub alpha: f64,
    /// Dropout after each repeat purchase: p ~ Beta(a, b).
    pub a: f64,
    pub b: f64,
    pub mean_order_value: f64,
    /// The `signup_reason` trait that reveals the persona.
    pub signup_reason: &'static str,
    /// Main-device platform weights (Desktop, MobileWeb, iOS, Android).
    pub platforms: [f64; 4],
    /// Weights of 1, 2, 3 and 4 awareness visits.
    pub aw_visits: [f64; 4],
    /// Mean pages in a browsing visit.
    pub pages: f64,
    /// Mean number of Consideration visits (at least one).
    pub cons_visits: f64,
    /// Median days from entering Consideration to entering Decision.
    pub cons_to_dec_days: f64,
    /// Share who sign up during Consideration.
    pub signup: f64,
    /// Share of identified customers who subscribe to the newsletter.
    pub newsletter: f64,
    pub open_rate: f64,
    /// Clicks per delivered email.
    pub click_rate: f64,
    /// Share who start a live chat during Consideration.
    pub chat: f64,
    /// Share of checkouts with a coupon.
    pub coupon: f64,
    /// NPS answer weights for 0..=10.
    pub nps: [f64; 11],
    /// CES answer weights for 1..=7 (higher = easier).
    pub ces: [f64; 7],
    /// Interest in the six categories.
    pub categories: [f64; 6],
    /// Mean browsing visits after the first purchase.
    pub browse_after: f64,
    /// Support tickets per order, besides late deliveries.
    pub tickets: f64,
}

pub(crate) static PERSONAS: [Persona; 5] = [
    Persona {
        key: "deal_hunter",
        name: "Deal hunters",
        share: 0.30,
        transitions: [0.60, 0.55, 0.30, 0.30, 0.20],
        channels: &[(Channel::PaidSearch, 0.75), (Channel::Affiliates, 0.15), (Channel::Email, 0.10)],
        r: 3.0,
        alpha: 90.0,
        a: 2.0,
        b: 4.0,
        mean_order_value: 45.0,
        signup_reason: "deals",
        platforms: [0.60, 0.34, 0.04, 0.02],
        aw_visits: [0.30, 0.30, 0.25, 0.15],
        pages: 3.5,
        cons_visits: 3.0,
        cons_to_dec_days: 2.0,
        signup: 0.50,
        newsletter: 0.95,
        open_rate: 0.38,
        click_rate: 0.07,
        chat: 0.06,
        coupon: 0.75,
        nps: [0.01, 0.01, 0.02, 0.03, 0.05, 0.08, 0.22, 0.30, 0.20, 0.05, 0.03],
        ces: [0.05, 0.12, 0.20, 0.25, 0.20, 0.12, 0.06],
        categories: [1.0, 1.0, 1.0, 1.0, 1.6, 1.0],
        browse_after: 1.0,
        tickets: 0.03,
    },
    Persona {
        key: "loyal_regular",
        name: "Loyal regulars",
        share: 0.20,
        transitions: [0.80, 0.75, 0.70, 0.65, 0.40],
        channels: &[(Channel::Direct, 0.70), (Channel::Referral, 0.20), (Channel::Email, 0.10)],
        r: 4.0,
        alpha: 60.0,
        a: 1.0,
        b: 7.0,
        mean_order_value: 120.0,
        signup_reason: "favourite_brand",
        platforms: [0.50, 0.25, 0.15, 0.10],
        aw_visits: [0.40, 0.30, 0.20, 0.10],
        pages: 3.5,
        cons_visits: 2.5,
        cons_to_dec_days: 2.0,
        signup: 0.70,
        newsletter: 0.90,
        open_rate: 0.40,
        click_rate: 0.07,
        chat: 0.08,
        coupon: 0.10,
        nps: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01, 0.03, 0.08, 0.30, 0.58],
        ces: [0.01, 0.02, 0.04, 0.08, 0.20, 0.30, 0.35],
        categories: [1.2, 1.0, 1.0, 1.2, 0.8, 1.0],
        browse_after: 2.0,
        tickets: 0.03,
    },
    Persona {
        key: "social_browser",
        name: "Social browsers",
        share: 0.25,
        transitions: [0.35, 0.45, 0.40, 0.35, 0.50],
        channels: &[(Channel::PaidSocial, 0.70), (Channel::OrganicSocial, 0.20), (Channel::OrganicVideo, 0.10)],
        r: 2.5,
        alpha: 90.0,
        a: 2.0,
        b: 3.0,
        mean_order_value: 70.0,
        signup_reason: "saw_on_social",
        platforms: [0.05, 0.15, 0.45, 0.35],
        aw_visits: [0.20, 0.30, 0.30, 0.20],
        pages: 5.0,
        cons_visits: 2.5,
        cons_to_dec_days: 3.0,
        signup: 0.35,
        newsletter: 0.70,
        open_rate: 0.20,
        click_rate: 0.03,
        chat: 0.05,
        coupon: 0.15,
        nps: [0.0, 0.0, 0.01, 0.02, 0.03, 0.06, 0.10, 0.25, 0.28, 0.15, 0.10],
        ces: [0.01, 0.02, 0.05, 0.10, 0.22, 0.30, 0.30],
        categories: [0.8, 1.2, 1.6, 1.2, 0.5, 0.7],
        browse_after: 1.5,
        tickets: 0.02,
    },
    Persona {
        key: "business_buyer",
        name: "Business buyers",
        share: 0.10,
        transitions: [0.70, 0.70, 0.60, 0.55, 0.25],
        channels: &[(Channel::OrganicSearch, 0.70), (Channel::Phone, 0.30)],
        r: 4.0,
        alpha: 100.0,
        a: 1.0,
        b: 5.0,
        mean_order_value: 480.0,
        signup_reason: "for_my_company",
        platforms: [0.85, 0.13, 0.01, 0.01],
        aw_visits: [0.30, 0.30, 0.25, 0.15],
        pages: 4.0,
        cons_visits: 4.0,
        cons_to_dec_days: 10.0,
        signup: 0.55,
        newsletter: 0.75,
        open_rate: 0.25,
        click_rate: 0.04,
        chat: 0.40,
        coupon: 0.05,
        nps: [0.0, 0.0, 0.01, 0.01, 0.02, 0.05, 0.08, 0.22, 0.30, 0.18, 0.13],
        ces: [0.01, 0.02, 0.05, 0.10, 0.22, 0.30, 0.30],
        categories: [1.5, 1.2, 0.8, 0.8, 1.2, 1.3],
        browse_after: 1.0,
        tickets: 0.25,
    },
    Persona {
        key: "gift_shopper",
        name: "Gift shoppers",
        share: 0.15,
        transitions: [0.55, 0.60, 0.50, 0.15, 0.20],
        channels: &[(Channel::PaidShopping, 0.75), (Channel::Display, 0.25)],
        r: 2.0,
        alpha: 120.0,
        a: 3.0,
        b: 2.0,
        mean_order_value: 95.0,
        signup_reason: "gift",
        platforms: [0.45, 0.50, 0.03, 0.02],
        aw_visits: [0.45, 0.30, 0.15, 0.10],
        pages: 3.0,
        cons_visits: 2.0,
        cons_to_dec_days: 2.5,
        signup: 0.30,
        newsletter: 0.60,
        open_rate: 0.20,
        click_rate: 0.03,
        chat: 0.10,
        coupon: 0.12,
        nps: [0.0, 0.0, 0.0, 0.01, 0.02, 0.04, 0.08, 0.15, 0.30, 0.22, 0.18],
        ces: [0.01, 0.02, 0.05, 0.10, 0.22, 0.30, 0.30],
        categories: [0.6, 1.0, 1.5, 0.8, 1.0, 1.0],
        browse_after: 0.3,
        tickets: 0.03,
    },
];

/// Stage names of the default stage model, in order.
pub(crate) const STAGES: [&str; 6] = ["Awareness", "Consideration", "Decision", "Purchase", "Retention", "Advocacy"];

/// Exit points of a Decision drop-out: where the last interaction happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Cart,
    CheckoutStart,
    Shipping,
    Payment,
}

impl Exit {
    /// Weights of (cart, checkout start, shipping page, payment) exits.
    pub(crate) fn weights(persona: usize) -> [f64; 4] {
        if persona == DEAL_HUNTER { [0.05, 0.04, 0.85, 0.06] } else { [0.36, 0.24, 0.08, 0.32] }
    }

    pub(crate) fn from_index(i: usize) -> Exit {
        match i {
            0 => Exit::Cart,
            1 => Exit::CheckoutStart,
            2 => Exit::Shipping,
            _ => Exit::Payment,
        }
    }
}

/// Share of business buyers flagged to buy by phone (before the draws);
/// about 30% of those who purchase end up doing so by phone.
pub(crate) const PHONE_ORDER_SHARE: f64 = 0.33;
/// Share of phone-touched business buyers whose phone events carry an old
/// CRM id (linked to the web user id by an alias call).
pub(crate) const CRM_SHARE: f64 = 0.4;
/// Late-delivery shares: first orders and repeat orders (pain point 2).
pub(crate) const LATE_FIRST: f64 = 0.08;
pub(crate) const LATE_REPEAT: f64 = 0.45;
/// Share of customers with a second device.
pub(crate) const SECOND_DEVICE: f64 = 0.30;
/// Share of identified customers who sign in on another customer's laptop.
pub(crate) const SHARED_LAPTOP: f64 = 0.01;
/// Probability of a signup reason that does not reveal the persona.
pub(crate) const REASON_NOISE: f64 = 0.15;
