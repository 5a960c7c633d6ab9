//! One customer's life at Northwind Outfitters, generated from the
//! customer's own random stream: persona and devices, visits through their
//! channels, the stage chain (Awareness → … → Advocacy) with its Bernoulli
//! draws and true channel effects, identification, checkout and its exits,
//! orders, deliveries, repeat purchases (BG/NBD-style), surveys, support,
//! advocacy and the weekly newsletter — and, once done, the facts the ground
//! truth needs, measured on the events that were actually kept (inside the
//! simulated window).

use std::sync::Arc;

use wayfarer_core::Kind;

use crate::catalog::{
    AFFILIATE_CAMPAIGNS, AFFILIATES, ANDROID_MODELS, ANDROID_UA, BASE, CATEGORIES, CITIES, COMPANY_SIZES, DESKTOP_UA,
    DISPLAY_CAMPAIGNS, DISPLAY_SOURCES, EMAIL_CAMPAIGNS, FIRST_NAMES, IOS_MODELS, IOS_UA, OTHER_REASONS,
    PAID_SEARCH_CAMPAIGNS, PAID_SEARCH_TERMS, PRODUCTS, Pg, QUERIES, REFERRAL_SITES, SEARCH_REFERRERS,
    SHOPPING_CAMPAIGNS, SOCIAL_APP_SOURCES, SOCIAL_CAMPAIGNS, SOCIAL_REFERRERS, SUPPORT_AGENTS, VIDEO_REFERRER,
    in_category,
};
use crate::event::{
    CampaignCtx, DAY, Ev, HOUR, MINUTE, Obj, PageCtx, SECOND, SRC_DEVICE, SRC_SERVER, U_AUTO, U_NONE, U_PHONE, U_WEB,
    anonymous_id, cents, crm_id, format_date, ms, tag, web_user_id, weekday,
};
use crate::model::{
    BUSINESS_BUYER, CRM_SHARE, Channel, DEAL_HUNTER, Exit, LATE_FIRST, LATE_REPEAT, PERSONAS, PHONE_ORDER_SHARE,
    Persona, Platform, REASON_NOISE, SECOND_DEVICE, SOCIAL_BROWSER, effect_sum, shift_logit,
};
use crate::rng::Rng;
use crate::texts::{self, Fill, Topic};

/// One of a customer's devices.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub platform: Platform,
    /// Browser user agent (for web pages, also inside the app's web view).
    pub ua: &'static str,
    pub ip: Box<str>,
    pub manufacturer: &'static str,
    pub model: &'static str,
    pub os_version: &'static str,
}

/// What the writers need to know about a customer.
#[derive(Debug, Clone)]
pub(crate) struct CustomerMeta {
    pub persona: usize,
    pub web_id: Box<str>,
    /// The old CRM id, when the customer's phone events carry one.
    pub crm_id: Option<Box<str>>,
    pub anon: [Box<str>; 2],
    pub devices: [Device; 2],
    /// Local UTC offset in minutes.
    pub tz_minutes: i32,
}

impl CustomerMeta {
    /// The id phone events carry: the CRM id, else the web id.
    pub(crate) fn phone_id(&self) -> &str {
        self.crm_id.as_deref().unwrap_or(&self.web_id)
    }

    pub(crate) fn user_id(&self, code: u8) -> Option<&str> {
        match code {
            U_WEB => Some(&*self.web_id),
            U_PHONE => Some(self.phone_id()),
            _ => None,
        }
    }
}

/// Facts measured on a finished customer's events.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub stage_reached: usize,
    /// Reached Purchase without a Consideration or Decision event (phone order).
    pub phone_skip: bool,
    pub identified: bool,
    pub user_ids: Vec<String>,
    pub anonymous_ids: Vec<String>,
    /// When the main device was identified.
    pub main_login: Option<i64>,
    pub orders: u64,
    pub revenue: f64,
    /// First on time, first late, repeat on time, repeat late.
    pub deliveries: [u64; 4],
    /// (sum, count) of CSAT scores after late and on-time deliveries.
    pub csat_late: (f64, u64),
    pub csat_on_time: (f64, u64),
    /// For customers whose furthest stage is Decision: whether their last
    /// customer-initiated interaction was the shipping costs page.
    pub exit_at_shipping: Option<bool>,
    /// The first-purchase decision inside the window: its base probability
    /// and the channels touched before it (the ground truth of attribution).
    pub decision: Option<(f64, u16)>,
}

/// A generated customer.
#[derive(Debug)]
pub(crate) struct CustomerOut {
    pub events: Vec<Ev>,
    pub meta: CustomerMeta,
    pub facts: Facts,
}

/// Generates customer `idx` of the company with this `seed`.
pub(crate) fn generate(
    seed: u64,
    idx: u32,
    start: i64,
    end: i64,
    intervention: Option<crate::Intervention>,
) -> CustomerOut {
    let mut g = Gen::new(seed, idx, end);
    g.intervention = intervention;
    let window = (end - start).max(DAY);
    let arrival = ms(start + (g.rng.f64() * 0.75 * window as f64) as i64 + 6 * HOUR);
    g.run(arrival);
    g.finish()
}

fn make_device(rng: &mut Rng, platform: Platform) -> Device {
    let ip = {
        const FIRST: [u8; 12] = [24, 50, 66, 68, 71, 73, 76, 98, 107, 108, 174, 184];
        format!("{}.{}.{}.{}", rng.pick(&FIRST), rng.int(0, 255), rng.int(0, 255), rng.int(1, 254))
    };
    let (ua, manufacturer, model, os_version) = match platform {
        Platform::Desktop => (*rng.pick(&DESKTOP_UA), "", "", ""),
        Platform::MobileWeb => {
            if rng.chance(0.55) {
                (*rng.pick(&IOS_UA), "", "", "")
            } else {
                (*rng.pick(&ANDROID_UA), "", "", "")
            }
        }
        Platform::Ios => {
            let (m, v) = *rng.pick(&IOS_MODELS);
            (*rng.pick(&IOS_UA), "Apple", m, v)
        }
        Platform::Android => {
            let (mf, m, v) = *rng.pick(&ANDROID_MODELS);
            (*rng.pick(&ANDROID_UA), mf, m, v)
        }
    };
    Device { platform, ua, ip: ip.into_boxed_str(), manufacturer, model, os_version }
}

/// How a Decision visit ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecEnd {
    /// Leaves after viewing the cart, to come back later.
    Abandon,
    Buy,
    Exit(Exit),
}

/// An order placed.
#[derive(Debug, Clone)]
struct Order {
    id: String,
    t: i64,
    /// Who later server-side events about it are for.
    user: u8,
    lines: Vec<(usize, u32)>,
}

/// One visit (session) on a device.
#[derive(Debug)]
struct Visit {
    t: i64,
    slot: u8,
    app: bool,
    /// Landing traffic, consumed by the first view.
    query: Option<String>,
    referrer: String,
    campaign: Option<Arc<CampaignCtx>>,
    page: Option<Arc<PageCtx>>,
    viewed_any: bool,
    on_landing: bool,
    /// Views left before the second device's login.
    login_after: Option<usize>,
}

const COUPONS: [(&str, f64); 4] = [("SAVE10", 0.10), ("TRAIL15", 0.15), ("WELCOME10", 0.10), ("SUMMER20", 0.20)];
const SHARE_VIA: [&str; 5] = ["facebook", "pinterest", "whatsapp", "email", "copy_link"];
const CARRIERS: [&str; 3] = ["UPS", "FedEx", "USPS"];
/// The channels a visit can come through from any persona (one visit in
/// ten, besides the direct ones and those through the persona's channels):
/// every web channel but Direct.
const WEB_CHANNELS: [Channel; 10] = [
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
];
const EMAIL_SUBJECTS: [&str; 6] = [
    "New arrivals for your next trail",
    "This week's gear deals",
    "Our guide to autumn layering",
    "Members save on tents this week",
    "Trail stories from the community",
    "Last chance: weekend sale",
];

/// Track events that enter Consideration or a later stage by the default rules.
fn is_consideration_or_later(name: &str) -> bool {
    matches!(
        name,
        "Product Viewed"
            | "Product List Viewed"
            | "Product List Filtered"
            | "Products Searched"
            | "Product Clicked"
            | "Promotion Clicked"
            | "Product Added to Wishlist"
            | "Email Link Clicked"
            | "Signed Up"
            | "Live Chat Conversation Started"
            | "Video Playback Started"
            | "Product Added"
            | "Wishlist Product Added to Cart"
            | "Cart Viewed"
            | "Checkout Started"
            | "Checkout Step Viewed"
            | "Checkout Step Completed"
            | "Payment Info Entered"
            | "Coupon Entered"
            | "Order Completed"
            | "Referral Sent"
            | "Product Shared"
            | "Cart Shared"
    )
}

/// Stage of an interaction event by the default stage rules; `purchases`
/// counts `Order Completed` events seen so far (for `nth_purchase >= 2`).
pub(crate) fn stage_of(e: &Ev, purchases: &mut u32) -> usize {
    if e.kind != Kind::Track {
        return 0;
    }
    match e.name {
        "Product Viewed"
        | "Product List Viewed"
        | "Product List Filtered"
        | "Products Searched"
        | "Product Clicked"
        | "Promotion Clicked"
        | "Product Added to Wishlist"
        | "Email Link Clicked"
        | "Signed Up"
        | "Live Chat Conversation Started"
        | "Video Playback Started" => 1,
        "Product Added"
        | "Wishlist Product Added to Cart"
        | "Cart Viewed"
        | "Checkout Started"
        | "Checkout Step Viewed"
        | "Checkout Step Completed"
        | "Payment Info Entered"
        | "Coupon Entered" => 2,
        "Order Completed" => {
            *purchases += 1;
            if *purchases >= 2 { 4 } else { 3 }
        }
        "Referral Sent" | "Product Shared" | "Cart Shared" => 5,
        "Product Reviewed" if e.tag == tag::ADVOCACY_REVIEW => 5,
        _ => 0,
    }
}

/// Events the company sends (not initiated by the customer).
pub(crate) fn is_company_event(name: &str) -> bool {
    matches!(name, "Email Delivered" | "Order Delivered")
}

struct Gen {
    rng: Rng,
    /// Product tastes draw from their own stream, so the rest of the
    /// customer's life is the same with or without them.
    prod: Rng,
    /// The two categories this customer mostly shops (drawn from the
    /// persona's interests): what makes one customer's views and orders
    /// predict their next ones.
    focus: [usize; 2],
    idx: u32,
    pi: usize,
    p: &'static Persona,
    end: i64,
    events: Vec<Ev>,
    meta: CustomerMeta,
    has_second: bool,
    primary: Channel,
    /// Channels touched so far (bit set).
    touched: u16,
    /// The first-purchase decision: base probability, channels touched
    /// before it, and when it fell.
    decision: Option<(f64, u16, i64)>,
    /// Latest event time emitted by the main path.
    last: i64,
    /// When the main device was identified on the web.
    web_ident: Option<i64>,
    dev2_login: bool,
    phone_known: bool,
    first_phone: Option<i64>,
    phone_orderer: bool,
    alias_done: bool,
    newsletter: bool,
    reason: &'static str,
    first_name: &'static str,
    city: &'static str,
    company_size: i64,
    /// When the first Consideration-or-later event happened.
    cons_at: Option<i64>,
    email_offset: i64,
    counter: u32,
    /// The company's dated change, if any.
    intervention: Option<crate::Intervention>,
}

/// Salt of the product-taste stream.
const PRODUCT_STREAM: u64 = 0x7072_6f64_7563_7473;
/// How often a customer's category choice is one of their two focus
/// categories.
const FOCUS: f64 = 0.7;
/// How often a main product in a basket brings an accessory.
const ACCESSORY: f64 = 0.35;

impl Gen {
    fn new(seed: u64, idx: u32, end: i64) -> Gen {
        let mut rng = Rng::stream(seed, u64::from(idx));
        let shares: Vec<f64> = PERSONAS.iter().map(|p| p.share).collect();
        let pi = rng.weighted(&shares);
        let p = &PERSONAS[pi];
        let main = Platform::ALL[rng.weighted(&p.platforms)];
        let has_second = rng.chance(SECOND_DEVICE);
        let second = if main.is_app() {
            if rng.chance(0.5) { Platform::Desktop } else { Platform::MobileWeb }
        } else if rng.chance(0.6) {
            if rng.chance(0.55) { Platform::Ios } else { Platform::Android }
        } else if main == Platform::Desktop {
            Platform::MobileWeb
        } else {
            Platform::Desktop
        };
        let devices = [make_device(&mut rng, main), make_device(&mut rng, second)];
        let (city, tz) = *rng.pick(&CITIES);
        let reason = if rng.chance(REASON_NOISE) {
            let others: Vec<&'static str> = OTHER_REASONS.iter().copied().filter(|r| *r != p.signup_reason).collect();
            *rng.pick(&others)
        } else {
            p.signup_reason
        };
        // The persona's favourite channel brings 45 % of the visits; the rest
        // come from its whole mix, from any channel and from direct visits
        // (see visit_channel).
        let primary = p.channels[0].0;
        let meta = CustomerMeta {
            persona: pi,
            web_id: web_user_id(idx).into_boxed_str(),
            crm_id: None,
            anon: [anonymous_id(seed, idx, 1).into_boxed_str(), anonymous_id(seed, idx, 2).into_boxed_str()],
            devices,
            tz_minutes: tz,
        };
        let mut prod = Rng::stream(seed ^ PRODUCT_STREAM, u64::from(idx));
        let first = prod.weighted(&p.categories);
        let mut others = p.categories;
        others[first] = 0.0;
        let focus = [first, prod.weighted(&others)];
        Gen {
            prod,
            focus,
            newsletter: rng.chance(p.newsletter),
            first_name: rng.pick::<&str>(&FIRST_NAMES),
            company_size: *rng.pick(&COMPANY_SIZES),
            email_offset: rng.int(0, 90) * MINUTE + rng.int(0, 59) * SECOND,
            rng,
            idx,
            pi,
            p,
            end,
            events: Vec::with_capacity(64),
            meta,
            has_second,
            primary,
            touched: 0,
            decision: None,
            last: 0,
            web_ident: None,
            dev2_login: false,
            phone_known: false,
            first_phone: None,
            phone_orderer: false,
            alias_done: false,
            reason,
            city,
            cons_at: None,
            counter: 0,
            intervention: None,
        }
    }

    // -----------------------------------------------------------------------
    // The journey
    // -----------------------------------------------------------------------

    fn run(&mut self, arrival: i64) {
        let u = [self.rng.f64(), self.rng.f64(), self.rng.f64(), self.rng.f64(), self.rng.f64()];
        let phone_flag = self.pi == BUSINESS_BUYER && self.rng.chance(PHONE_ORDER_SHARE);
        // Awareness: 1–4 visits (or calls) through the customer's channels.
        let n_aw = 1 + self.rng.weighted(&self.p.aw_visits);
        let gap_mean = if self.pi == BUSINESS_BUYER { 3.0 } else { 1.5 };
        let mut t = arrival;
        for k in 0..n_aw {
            if t >= self.end {
                break;
            }
            let ch = if k == 0 { self.primary } else { self.visit_channel(true) };
            if ch == Channel::Phone {
                self.phone_call(t, "product_inquiry");
            } else {
                self.browse_visit(t, ch);
            }
            t = self.last + self.exp_days(gap_mean).max(40 * MINUTE);
        }
        let stop = self.main_path(u, phone_flag).unwrap_or(self.end);
        // A customer known by phone who never identified on the web logs in
        // with the account the sales team created, which links the two.
        if self.phone_known
            && self.web_ident.is_none()
            && self.has_device_events()
            && let Some(first) = self.first_phone
        {
            let latest = stop.min(self.end) - 10 * MINUTE;
            let t = (first + self.rng.int(HOUR, 5 * DAY)).min(latest).max(first + MINUTE);
            self.forced_login(t);
        }
        self.emails(stop);
    }

    /// Consideration onwards; returns the time after which the customer does
    /// nothing more (Decision drop-outs), if any.
    fn main_path(&mut self, u: [f64; 5], phone_flag: bool) -> Option<i64> {
        let p = self.p;
        if u[0] >= p.transitions[0] {
            return None;
        }
        let t_cons = self.last + days(self.rng.lognormal(0.6, 1.0)).max(40 * MINUTE);
        if t_cons >= self.end {
            return None;
        }
        let reaches_dec = u[1] < p.transitions[1];
        let t_dec = t_cons + days(self.rng.lognormal(p.cons_to_dec_days, 0.7)).max(3 * HOUR);
        if phone_flag && reaches_dec {
            let touched = self.touched | Channel::Phone.bit();
            let p_buy = shift_logit(p.transitions[2], effect_sum(touched));
            self.decision = Some((p.transitions[2], touched, t_dec));
            if u[2] < p_buy {
                self.phone_purchase(t_cons, t_dec, u);
                return None;
            }
            // Talked to sales without ordering by phone: the call is on
            // record too, and the customer goes on on the web with it.
            self.phone_call(t_cons, "quote_request");
        }
        // Consideration visits.
        let n = 1 + (self.rng.poisson(p.cons_visits - 1.0) as usize).min(8);
        let mut times = vec![t_cons];
        if reaches_dec {
            let span = (t_dec - t_cons - 2 * HOUR).max(HOUR);
            for _ in 1..n {
                times.push(t_cons + HOUR + (self.rng.f64() * span as f64) as i64);
            }
            times.sort_unstable();
        } else {
            let mut t = t_cons;
            for _ in 1..n {
                t += self.exp_days(2.0).max(HOUR);
                times.push(t);
            }
        }
        let signup_at = self.rng.chance(p.signup).then(|| self.rng.below(n));
        let chat_at = self.rng.chance(p.chat).then(|| self.rng.below(n));
        for (i, &t) in times.iter().enumerate() {
            let t = t.max(self.last + 35 * MINUTE);
            if t >= self.end {
                break;
            }
            let ch = self.visit_channel(false);
            self.consideration_visit(t, ch, signup_at == Some(i), chat_at == Some(i));
        }
        if !reaches_dec {
            return None;
        }
        let t_dec = t_dec.max(self.last + 35 * MINUTE);
        if t_dec >= self.end {
            return None;
        }
        // Decision: maybe a first visit that leaves a full cart, then the
        // visit where the customer buys or drops out.
        let abandon_first = self.rng.chance(if self.pi == BUSINESS_BUYER { 0.5 } else { 0.3 });
        let back_days = if self.pi == BUSINESS_BUYER { 3.0 } else { 1.0 };
        let ch1 = self.visit_channel(false);
        let ch2 = if abandon_first { self.visit_channel(false) } else { ch1 };
        let mut t_final = t_dec;
        if abandon_first {
            t_final = t_dec + days(self.rng.lognormal(back_days, 0.8)).max(HOUR);
        }
        // Channels touched before deciding: every visit so far and the
        // decision visits, the newsletter if one arrived since sign-up, phone
        // calls and chats.
        let mut touched = self.touched | ch1.bit() | ch2.bit();
        if self.newsletter
            && let Some(w) = self.web_ident
            && self.next_send(w + MINUTE) < t_final
        {
            touched |= Channel::Email.bit();
        }
        let q = shift_logit(p.transitions[2], effect_sum(touched));
        let mut buys = u[2] < q;
        self.decision = Some((p.transitions[2], touched, t_final));
        let exit = Exit::from_index(self.rng.weighted(&Exit::weights(self.pi)));
        // After the fix, some who would have left at the shipping costs buy.
        if let Some(iv) = self.intervention
            && !buys
            && self.pi == DEAL_HUNTER
            && exit == Exit::Shipping
            && t_final >= iv.at_micros
        {
            buys = u[2] < q + iv.recovered * (1.0 - q);
        }
        if abandon_first {
            let _ = self.decision_visit(t_dec, ch1, DecEnd::Abandon);
        }
        let t_final = t_final.max(self.last + 35 * MINUTE);
        if t_final >= self.end {
            return Some(t_final);
        }
        let end = if buys { DecEnd::Buy } else { DecEnd::Exit(exit) };
        match self.decision_visit(t_final, ch2, end) {
            Some(order) => {
                self.after_first_order(&order, u);
                None
            }
            None => Some(t_final),
        }
    }

    /// A business buyer who skips the web: a quote call, then an order by phone.
    fn phone_purchase(&mut self, t_cons: i64, t_dec: i64, u: [f64; 5]) {
        self.phone_orderer = true;
        self.phone_call(t_cons, "quote_request");
        let t_order = t_dec.max(self.last + HOUR);
        if t_order >= self.end {
            return;
        }
        self.phone_call(t_order, "order");
        let t_phone = t_order + self.rng.int(5, 25) * MINUTE;
        let order = self.phone_order(t_phone);
        let latest = self.end - 10 * MINUTE;
        let t_login = (order.t + self.rng.int(HOUR, 3 * DAY)).min(latest).max(order.t + MINUTE);
        self.forced_login(t_login);
        self.after_first_order(&order, u);
    }

    fn after_first_order(&mut self, order: &Order, u: [f64; 5]) {
        let p = self.p;
        self.delivery(order, true);
        if u[3] < p.transitions[3] {
            let lambda = self.rng.gamma(p.r, 1.0 / p.alpha).max(1e-4);
            let p_drop = self.rng.beta(p.a, p.b);
            let advocate = u[4] < p.transitions[4];
            let mut last_order = order.t;
            let mut n = 1;
            loop {
                let gap = days(self.rng.exp(1.0 / lambda)).max(2 * DAY);
                let t = last_order + gap;
                if t >= self.end {
                    break;
                }
                let Some(next) = self.repeat_order(t) else {
                    break;
                };
                let t_delivered = self.delivery(&next, false);
                n += 1;
                if advocate && (n == 2 || self.rng.chance(0.3)) {
                    let t_adv = t_delivered + days(self.rng.uniform(1.0, 20.0));
                    self.advocacy(t_adv, &next);
                }
                if self.rng.chance(p_drop) {
                    break;
                }
                last_order = next.t;
            }
        }
        // Browsing visits after the first purchase.
        let k = self.rng.poisson(p.browse_after).min(6);
        for _ in 0..k {
            let from = order.t + DAY;
            if from >= self.end {
                break;
            }
            let t = from + (self.rng.f64() * (self.end - from) as f64) as i64;
            let ch = self.visit_channel(false);
            self.consideration_visit(t, ch, false, false);
        }
    }

    // -----------------------------------------------------------------------
    // Visits
    // -----------------------------------------------------------------------

    fn visit_channel(&mut self, allow_phone: bool) -> Channel {
        let r = self.rng.f64();
        let ch = if r < 0.15 {
            Channel::Direct
        } else if r < 0.60 {
            self.primary
        } else if r < 0.90 {
            let w: Vec<f64> = self.p.channels.iter().map(|c| c.1).collect();
            self.p.channels[self.rng.weighted(&w)].0
        } else {
            // Every channel reaches some customers of every kind: people of
            // any persona search, see ads and follow links now and then.
            *self.rng.pick(&WEB_CHANNELS)
        };
        match ch {
            Channel::Phone if !allow_phone => Channel::Direct,
            Channel::Chat => Channel::Direct,
            c => c,
        }
    }

    fn start_visit(&mut self, t: i64, ch: Channel) -> Visit {
        let slot: u8 =
            if self.has_second && self.web_ident.is_some_and(|w| w < t) && self.rng.chance(0.35) { 2 } else { 1 };
        let app = self.meta.devices[usize::from(slot - 1)].platform.is_app();
        let (query, referrer, campaign) = self.traffic(ch, app);
        if !matches!(ch, Channel::Phone | Channel::Chat) {
            self.touched |= ch.bit();
        }
        self.open_visit(t, slot, app, query, referrer, campaign)
    }

    fn open_visit(
        &mut self,
        t: i64,
        slot: u8,
        app: bool,
        query: Option<String>,
        referrer: String,
        campaign: Option<Arc<CampaignCtx>>,
    ) -> Visit {
        let login_after = (slot == 2 && !self.dev2_login).then(|| 1 + self.rng.below(2));
        Visit {
            t: ms(t),
            slot,
            app,
            query,
            referrer,
            campaign,
            page: None,
            viewed_any: false,
            on_landing: false,
            login_after,
        }
    }

    /// Landing traffic for a channel: (UTM query, referrer, context.campaign).
    fn traffic(&mut self, ch: Channel, app: bool) -> (Option<String>, String, Option<Arc<CampaignCtx>>) {
        let none = (None, String::new(), None);
        let (source, medium, name, term, referrer): (
            String,
            &'static str,
            Option<String>,
            Option<&'static str>,
            String,
        ) = match ch {
            Channel::Direct | Channel::Phone | Channel::Chat => return none,
            Channel::OrganicSearch => {
                let r = *self.rng.pick(&SEARCH_REFERRERS);
                if !app {
                    return (None, r.to_string(), None);
                }
                ("google".to_string(), "organic", None, None, String::new())
            }
            Channel::OrganicSocial => {
                if !app {
                    return (None, (*self.rng.pick(&SOCIAL_REFERRERS)).to_string(), None);
                }
                ((*self.rng.pick(&SOCIAL_APP_SOURCES)).to_string(), "social", None, None, String::new())
            }
            Channel::OrganicVideo => {
                if !app {
                    return (None, VIDEO_REFERRER.to_string(), None);
                }
                ("youtube.com".to_string(), "referral", None, None, String::new())
            }
            Channel::Referral => {
                let site = *self.rng.pick(&REFERRAL_SITES);
                if !app {
                    return (None, site.to_string(), None);
                }
                let host = site
                    .trim_start_matches("https://")
                    .trim_start_matches("www.")
                    .split('/')
                    .next()
                    .unwrap_or("gearjunkie.com")
                    .to_string();
                (host, "referral", None, None, String::new())
            }
            Channel::PaidSearch => {
                let google = self.rng.chance(0.85);
                let k = self.rng.below(PAID_SEARCH_CAMPAIGNS.len());
                (
                    if google { "google" } else { "bing" }.to_string(),
                    "cpc",
                    Some(PAID_SEARCH_CAMPAIGNS[k].to_string()),
                    Some(PAID_SEARCH_TERMS[k]),
                    if google { "https://www.google.com/".to_string() } else { "https://www.bing.com/".to_string() },
                )
            }
            Channel::PaidShopping => (
                "google".to_string(),
                "cpc",
                Some((*self.rng.pick(&SHOPPING_CAMPAIGNS)).to_string()),
                None,
                "https://www.google.com/".to_string(),
            ),
            Channel::Display => (
                (*self.rng.pick(&DISPLAY_SOURCES)).to_string(),
                "display",
                Some((*self.rng.pick(&DISPLAY_CAMPAIGNS)).to_string()),
                None,
                String::new(),
            ),
            Channel::PaidSocial => {
                let fb = self.rng.chance(0.55);
                let medium = if self.rng.chance(0.6) { "paid_social" } else { "cpc" };
                (
                    if fb { "facebook" } else { "instagram" }.to_string(),
                    medium,
                    Some((*self.rng.pick(&SOCIAL_CAMPAIGNS)).to_string()),
                    None,
                    if fb { "https://l.facebook.com/".to_string() } else { "https://l.instagram.com/".to_string() },
                )
            }
            Channel::Affiliates => {
                let src = *self.rng.pick(&AFFILIATES);
                (
                    src.to_string(),
                    "affiliate",
                    Some((*self.rng.pick(&AFFILIATE_CAMPAIGNS)).to_string()),
                    None,
                    format!("https://www.{src}.com/"),
                )
            }
            Channel::Email => (
                "newsletter".to_string(),
                "email",
                Some((*self.rng.pick(&EMAIL_CAMPAIGNS)).to_string()),
                None,
                String::new(),
            ),
        };
        let mut query = format!("utm_source={source}&utm_medium={medium}");
        if let Some(n) = &name {
            query.push_str("&utm_campaign=");
            query.push_str(n);
        }
        if let Some(t) = term {
            query.push_str("&utm_term=");
            query.push_str(&t.replace(' ', "+"));
        }
        let campaign = Arc::new(CampaignCtx {
            source: source.into_boxed_str(),
            medium,
            name: name.map(String::into_boxed_str),
            term,
        });
        if app { (None, String::new(), Some(campaign)) } else { (Some(query), referrer, Some(campaign)) }
    }

    /// Views a page (web) or screen (app).
    fn view(&mut self, v: &mut Visit, pg: Pg) {
        if v.viewed_any {
            v.t += self.dwell();
        }
        let landing = !v.viewed_any;
        if v.app {
            let mut e = Ev::new(Kind::Screen, v.t, pg.screen());
            e.slot = v.slot;
            if landing {
                e.campaign = v.campaign.clone();
            }
            e.props = screen_props(pg);
            v.page = None;
            self.emit(e);
        } else {
            let mut url = format!("{BASE}{}", pg.path());
            if landing && let Some(q) = &v.query {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(q);
            }
            let referrer: Box<str> = if landing {
                v.referrer.as_str().into()
            } else {
                v.page.as_ref().map_or_else(|| Box::from(""), |p| p.url.clone())
            };
            let ctx = Arc::new(PageCtx {
                url: url.into_boxed_str(),
                referrer,
                title: pg.title().into_boxed_str(),
                name: pg.name(),
                category: pg.category(),
            });
            v.page = Some(Arc::clone(&ctx));
            let mut e = Ev::new(Kind::Page, v.t, pg.name());
            e.slot = v.slot;
            e.page = Some(ctx);
            if landing {
                e.campaign = v.campaign.clone();
            }
            if pg == Pg::Shipping {
                e.tag = tag::SHIPPING_PAGE;
            }
            self.emit(e);
        }
        v.viewed_any = true;
        v.on_landing = landing;
        if let Some(n) = v.login_after {
            if n <= 1 {
                v.login_after = None;
                self.login_second_device(v);
            } else {
                v.login_after = Some(n - 1);
            }
        }
    }

    /// A track event on the visit's current page or screen.
    fn track(&mut self, v: &mut Visit, name: &'static str, props: Box<str>) {
        self.track_ev(v, Ev::new(Kind::Track, 0, name).with_props(props));
    }

    fn track_ev(&mut self, v: &mut Visit, mut e: Ev) {
        v.t += self.rng.int(2, 25) * SECOND + self.rng.int(0, 999) * 1000;
        e.ts = v.t;
        e.slot = v.slot;
        if !v.app {
            e.page = v.page.clone();
        }
        if v.on_landing {
            e.campaign = v.campaign.clone();
        }
        self.emit(e);
    }

    fn dwell(&mut self) -> i64 {
        self.rng.int(6, 110) * SECOND + self.rng.int(0, 999) * 1000
    }

    fn browse_visit(&mut self, t: i64, ch: Channel) {
        let mut v = self.start_visit(t, ch);
        let n = 1 + (self.rng.poisson(self.p.pages - 1.0) as usize).min(10);
        for i in 0..n {
            let pg = self.awareness_page(i == 0);
            self.view(&mut v, pg);
        }
    }

    fn awareness_page(&mut self, landing: bool) -> Pg {
        let w: [f64; 5] = if landing { [0.30, 0.30, 0.20, 0.15, 0.05] } else { [0.15, 0.35, 0.15, 0.30, 0.05] };
        match self.rng.weighted(&w) {
            0 => Pg::Home,
            1 => Pg::Category(self.pick_cat()),
            2 => Pg::Blog(self.rng.below(8)),
            3 => Pg::Product(self.pick_product()),
            _ => Pg::Help(self.rng.below(3)),
        }
    }

    fn consideration_visit(&mut self, t: i64, ch: Channel, signup: bool, chat: bool) {
        let mut v = self.start_visit(t, ch);
        self.consideration_steps(&mut v, signup, chat);
    }

    fn consideration_steps(&mut self, v: &mut Visit, signup: bool, chat: bool) {
        let steps = 2 + (self.rng.poisson(self.p.pages - 1.0) as usize).min(8);
        let signup_step = signup.then(|| self.rng.below(steps));
        let mut list: Option<usize> = None;
        for i in 0..steps {
            let action = if i == 0 {
                self.rng.weighted(&[0.40, 0.30, 0.10, 0.10, 0.10])
            } else {
                self.rng.weighted(&[0.25, 0.45, 0.12, 0.08, 0.10])
            };
            match action {
                0 => {
                    let cat = self.pick_cat();
                    self.view(v, Pg::Category(cat));
                    let props = Obj::new()
                        .s("list_id", &format!("cat-{}", CATEGORIES[cat]))
                        .s("category", CATEGORIES[cat])
                        .raw("products", &list_products(cat))
                        .done();
                    self.track(v, "Product List Viewed", props);
                    list = Some(cat);
                }
                1 => {
                    let pid = match list {
                        Some(cat) if self.rng.chance(0.8) => cat * 8 + self.rng.below(8),
                        _ => self.pick_product(),
                    };
                    if let Some(cat) = list
                        && pid / 8 == cat
                    {
                        let props = product_obj(pid, None)
                            .i("position", (pid % 8) as i64 + 1)
                            .s("list_id", &format!("cat-{}", CATEGORIES[cat]))
                            .done();
                        self.track(v, "Product Clicked", props);
                    }
                    self.view(v, Pg::Product(pid));
                    self.product_viewed(v, pid);
                    list = None;
                }
                2 => {
                    let q = self.rng.below(QUERIES.len());
                    self.view(v, Pg::Search(q));
                    let props = Obj::new().s("query", QUERIES[q].0).done();
                    self.track(v, "Products Searched", props);
                    list = Some(QUERIES[q].1);
                }
                3 => {
                    let pg =
                        if self.rng.chance(0.5) { Pg::Help(self.rng.below(3)) } else { Pg::Blog(self.rng.below(8)) };
                    self.view(v, pg);
                    list = None;
                }
                _ => {
                    self.view(v, Pg::Home);
                    list = None;
                }
            }
            if signup_step == Some(i) {
                self.signup(v);
            }
            if chat && i == 0 {
                let pid = self.pick_product();
                let t = v.t + self.rng.int(20, 90) * SECOND;
                let helpful = self.rng.chance(0.8);
                v.t = self.chat(t, Topic::ChatQuestion, helpful, pid);
            }
        }
    }

    fn product_viewed(&mut self, v: &mut Visit, pid: usize) {
        let url = v.page.as_ref().map(|p| p.url.clone());
        let props = product_obj(pid, url.as_deref()).s("currency", "USD").done();
        self.track(v, "Product Viewed", props);
    }

    fn signup(&mut self, v: &mut Visit) {
        self.view(v, Pg::Account);
        if self.web_ident.is_none() {
            self.natural_identify(v);
        }
        let props = Obj::new()
            .s("method", if self.rng.chance(0.8) { "email" } else { "google" })
            .b("newsletter", self.newsletter)
            .done();
        self.track(v, "Signed Up", props);
    }

    /// Identification on the web (sign-up or checkout), with full traits.
    fn natural_identify(&mut self, v: &mut Visit) {
        let mut traits = Obj::new()
            .s("email", &format!("{}@example.com", self.meta.web_id))
            .s("first_name", self.first_name)
            .s("city", self.city)
            .b("newsletter", self.newsletter)
            .s("signup_reason", self.reason);
        if self.pi == BUSINESS_BUYER {
            traits = traits.i("company_size", self.company_size);
        }
        self.identify(v, traits.done());
        self.web_ident = Some(v.t);
        self.maybe_alias(v.t);
    }

    fn identify(&mut self, v: &mut Visit, traits: Box<str>) {
        v.t += self.rng.int(1, 4) * SECOND;
        let mut e = Ev::new(Kind::Identify, v.t, "Identify").with_props(traits);
        e.user = U_WEB;
        e.slot = v.slot;
        if !v.app {
            e.page = v.page.clone();
        }
        self.emit(e);
    }

    fn login_second_device(&mut self, v: &mut Visit) {
        self.dev2_login = true;
        let traits = Obj::new().s("email", &format!("{}@example.com", self.meta.web_id)).done();
        self.identify(v, traits);
    }

    /// A web login with the account created for a phone customer.
    fn forced_login(&mut self, t: i64) {
        if self.web_ident.is_some() {
            return;
        }
        let app = self.meta.devices[0].platform.is_app();
        let mut v = self.open_visit(t, 1, app, None, String::new(), None);
        self.touched |= Channel::Direct.bit();
        self.view(&mut v, Pg::Account);
        let mut traits = Obj::new()
            .s("email", &format!("{}@example.com", self.meta.web_id))
            .s("first_name", self.first_name)
            .b("newsletter", self.newsletter)
            .s("signup_reason", self.reason);
        if self.pi == BUSINESS_BUYER {
            traits = traits.i("company_size", self.company_size);
        }
        self.identify(&mut v, traits.done());
        self.web_ident = Some(v.t);
        self.maybe_alias(v.t);
    }

    fn has_device_events(&self) -> bool {
        self.events.iter().any(|e| e.slot == 1)
    }

    // -----------------------------------------------------------------------
    // Decision and orders
    // -----------------------------------------------------------------------

    fn decision_visit(&mut self, t: i64, ch: Channel, end: DecEnd) -> Option<Order> {
        let mut v = self.start_visit(t, ch);
        let lines = self.basket();
        let cart_id = self.next_id("cart");
        if self.rng.chance(0.2) {
            self.view(&mut v, Pg::Home);
        }
        for &(pid, qty) in &lines {
            self.view(&mut v, Pg::Product(pid));
            self.product_viewed(&mut v, pid);
            let props = product_obj(pid, None).s("cart_id", &cart_id).i("quantity", i64::from(qty)).done();
            self.track(&mut v, "Product Added", props);
        }
        self.view(&mut v, Pg::Cart);
        let products = products_json(&lines);
        let props = Obj::new().s("cart_id", &cart_id).raw("products", &products).done();
        self.track(&mut v, "Cart Viewed", props);
        if matches!(end, DecEnd::Abandon | DecEnd::Exit(Exit::Cart)) {
            return None;
        }
        if self.web_ident.is_none() {
            self.natural_identify(&mut v);
        }
        let order_id = self.next_order_id();
        let props = Obj::new()
            .s("checkout_id", &cart_id)
            .s("order_id", &order_id)
            .s("currency", "USD")
            .raw("products", &products)
            .done();
        self.track(&mut v, "Checkout Started", props);
        if end == DecEnd::Exit(Exit::CheckoutStart) {
            return None;
        }
        if v.app {
            // The app hands checkout over to a web view (same anonymous id).
            v.app = false;
            v.page = Some(Arc::new(PageCtx {
                url: format!("{BASE}/cart").into_boxed_str(),
                referrer: Box::from(""),
                title: Pg::Cart.title().into_boxed_str(),
                name: "Cart",
                category: "Checkout",
            }));
        }
        let step = |n: i64| Obj::new().s("checkout_id", &cart_id).i("step", n);
        self.track(&mut v, "Checkout Step Viewed", step(1).done());
        self.view(&mut v, Pg::Shipping);
        if end == DecEnd::Exit(Exit::Shipping) {
            return None;
        }
        let method = if self.rng.chance(0.8) { "standard" } else { "express" };
        self.track(&mut v, "Checkout Step Completed", step(1).s("shipping_method", method).done());
        self.track(&mut v, "Checkout Step Viewed", step(2).done());
        self.view(&mut v, Pg::Payment);
        let mut coupon: Option<(&'static str, f64)> = None;
        if self.rng.chance(self.p.coupon) {
            let c = *self.rng.pick(&COUPONS);
            let entered = |code: &str| Obj::new().s("cart_id", &cart_id).s("order_id", &order_id).s("coupon_id", code);
            self.track(&mut v, "Coupon Entered", entered(c.0).done());
            let denied = self.rng.chance(if self.pi == DEAL_HUNTER { 0.35 } else { 0.15 });
            if denied {
                let reason = *self.rng.pick(&["expired", "minimum order not met", "not valid on sale items"]);
                self.track(&mut v, "Coupon Denied", entered(c.0).s("reason", reason).done());
                if self.rng.chance(0.5) {
                    let c2 = *self.rng.pick(&COUPONS);
                    self.track(&mut v, "Coupon Entered", entered(c2.0).done());
                    self.track(&mut v, "Coupon Applied", entered(c2.0).s("coupon_name", c2.0).done());
                    coupon = Some(c2);
                }
            } else {
                self.track(&mut v, "Coupon Applied", entered(c.0).s("coupon_name", c.0).done());
                coupon = Some(c);
            }
        }
        let payment = Obj::new()
            .s("checkout_id", &cart_id)
            .s("order_id", &order_id)
            .i("step", 2)
            .s("payment_method", if self.rng.chance(0.75) { "card" } else { "paypal" })
            .done();
        if end == DecEnd::Exit(Exit::Payment) {
            if self.rng.chance(0.3) {
                self.track(&mut v, "Payment Info Entered", payment);
                let failed =
                    Obj::new().s("checkout_id", &cart_id).s("order_id", &order_id).s("reason", "card_declined").done();
                self.track(&mut v, "Payment Failed", failed);
            }
            return None;
        }
        self.track(&mut v, "Payment Info Entered", payment.clone());
        if self.rng.chance(0.04) {
            let failed =
                Obj::new().s("checkout_id", &cart_id).s("order_id", &order_id).s("reason", "card_declined").done();
            self.track(&mut v, "Payment Failed", failed);
            self.track(&mut v, "Payment Info Entered", payment);
        }
        let (props, revenue) = order_props(&order_id, &lines, coupon);
        let mut e = Ev::new(Kind::Track, 0, "Order Completed").with_props(props);
        e.extra_mut().revenue = Some(revenue);
        self.track_ev(&mut v, e);
        let order = Order { id: order_id, t: v.t, user: U_WEB, lines };
        self.view(&mut v, Pg::Confirmation);
        if self.rng.chance(0.25) {
            let t = v.t + self.rng.int(5 * MINUTE, 2 * HOUR);
            self.ces(t, &order);
        }
        Some(order)
    }

    fn phone_order(&mut self, t: i64) -> Order {
        let lines = self.basket();
        let id = self.next_order_id();
        let (props, revenue) = order_props(&id, &lines, None);
        let mut e = Ev::server(t, "Order Completed", U_PHONE)
            .with_props(props)
            .with_channel("Phone")
            .with_tag(tag::PHONE_ORDER);
        e.extra_mut().revenue = Some(revenue);
        self.emit(e);
        Order { id, t, user: U_PHONE, lines }
    }

    fn repeat_order(&mut self, t: i64) -> Option<Order> {
        if self.phone_orderer && self.rng.chance(0.6) {
            self.phone_call(t, "reorder");
            let t_phone = t + self.rng.int(5, 20) * MINUTE;
            return Some(self.phone_order(t_phone));
        }
        let ch = if self.newsletter && self.web_ident.is_some() && self.rng.chance(0.5) {
            Channel::Email
        } else {
            self.visit_channel(false)
        };
        self.decision_visit(t, ch, DecEnd::Buy)
    }

    /// Order lines whose value follows the persona's order-value distribution.
    fn basket(&mut self) -> Vec<(usize, u32)> {
        let p = self.p;
        let sigma = 0.45;
        let median = p.mean_order_value / (sigma * sigma / 2.0f64).exp();
        let target = self.rng.lognormal(median, sigma);
        let n_lines = [1, 1, 1, 1, 1, 1, 2, 2, 2, 3][self.rng.below(10)];
        let mut lines: Vec<(usize, u32)> = Vec::with_capacity(n_lines);
        for _ in 0..n_lines {
            let cat = self.pick_cat();
            let line_target = target / n_lines as f64 * self.rng.uniform(0.8, 1.25);
            let qty: u32 = if self.pi == BUSINESS_BUYER {
                self.rng.int(2, 8) as u32
            } else if self.rng.chance(0.05) {
                2
            } else {
                1
            };
            let unit = line_target / f64::from(qty);
            let mut best = (f64::INFINITY, cat * 8);
            for (j, prod) in in_category(cat).iter().enumerate() {
                let d = (prod.price / unit).ln().abs() + 0.35 * self.rng.f64();
                if d < best.0 {
                    best = (d, cat * 8 + j);
                }
            }
            match lines.iter_mut().find(|l| l.0 == best.1) {
                Some(l) => l.1 += qty,
                None => lines.push((best.1, qty)),
            }
        }
        // A main product often comes with one of its category's two
        // accessories (a tent with its footprint or stakes).
        let mains: Vec<usize> = lines.iter().map(|l| l.0).filter(|pid| pid % 8 < 6).collect();
        for pid in mains {
            if self.prod.chance(ACCESSORY) {
                let acc = pid / 8 * 8 + 6 + self.prod.below(2);
                if !lines.iter().any(|l| l.0 == acc) {
                    lines.push((acc, 1));
                }
            }
        }
        lines
    }

    // -----------------------------------------------------------------------
    // After an order
    // -----------------------------------------------------------------------

    /// Delivery, support and surveys after an order; returns the delivery time.
    fn delivery(&mut self, order: &Order, first: bool) -> i64 {
        let p = self.p;
        let late = self.rng.chance(if first { LATE_FIRST } else { LATE_REPEAT });
        let transit = self.rng.int(2, 4);
        let delay = if late { self.rng.int(5, 12) } else { 0 };
        let t_del = order.t + (transit + delay) * DAY + self.rng.int(0, 8 * HOUR);
        let carrier = *self.rng.pick(&CARRIERS);
        let props = Obj::new()
            .s("order_id", &order.id)
            .s("carrier", carrier)
            .i("days_in_transit", transit + delay)
            .i("delay_days", delay)
            .b("late", late)
            .done();
        let t = match (first, late) {
            (true, false) => tag::DELIVERY_FIRST,
            (true, true) => tag::DELIVERY_FIRST_LATE,
            (false, false) => tag::DELIVERY_REPEAT,
            (false, true) => tag::DELIVERY_REPEAT_LATE,
        };
        self.emit(Ev::server(t_del, "Order Delivered", order.user).with_props(props).with_tag(t));
        let pid = order.lines.first().map_or(0, |l| l.0);
        if late {
            let waiting = order.t + transit * DAY + days(self.rng.uniform(0.3, delay as f64 - 0.5));
            if self.rng.chance(0.35) {
                self.ticket(waiting, Topic::TicketLate, order, pid, delay);
            }
            if self.rng.chance(0.12) {
                let helpful = self.rng.chance(0.4);
                let _ = self.chat(waiting + HOUR, Topic::TicketLate, helpful, pid);
            }
            if self.rng.chance(if self.pi == BUSINESS_BUYER { 0.2 } else { 0.05 }) {
                self.support_call(waiting + 2 * HOUR, "late_delivery", order);
            }
        }
        let bad = self.rng.chance(0.10);
        if bad {
            if self.rng.chance(0.4) {
                let t = t_del + days(self.rng.uniform(1.0, 5.0));
                self.ticket(t, Topic::TicketProduct, order, pid, delay);
            }
            if self.rng.chance(0.35) {
                let t = t_del + days(self.rng.uniform(3.0, 15.0));
                let rating = self.rng.int(1, 2);
                self.review(t, pid, rating, Topic::ReviewNegative, false);
            }
        } else if self.rng.chance(0.04) {
            let t = t_del + days(self.rng.uniform(3.0, 15.0));
            self.review(t, pid, 3, Topic::ReviewMixed, false);
        }
        if self.rng.chance(p.tickets) {
            let t = t_del + days(self.rng.uniform(0.5, 10.0));
            let topic = if self.pi == BUSINESS_BUYER { Topic::TicketBusiness } else { Topic::TicketGeneral };
            self.ticket(t, topic, order, pid, delay);
        }
        // CSAT after each delivery.
        if self.rng.chance(0.45) {
            let weights: [f64; 5] = if late {
                [0.35, 0.35, 0.20, 0.07, 0.03]
            } else if bad {
                [0.30, 0.35, 0.25, 0.07, 0.03]
            } else {
                [0.02, 0.03, 0.10, 0.35, 0.50]
            };
            let score = 1 + self.rng.weighted(&weights) as i64;
            let topic = if late {
                if self.rng.chance(0.85) { Topic::DeliveryLate } else { Topic::SupportUnhelpful }
            } else if bad {
                if self.rng.chance(0.7) { Topic::ProductBad } else { Topic::SizingBad }
            } else if score >= 4 {
                [
                    Topic::DeliveryOnTime,
                    Topic::DeliveryOnTime,
                    Topic::DeliveryOnTime,
                    Topic::DeliveryOnTime,
                    Topic::ProductGood,
                    Topic::ProductGood,
                    Topic::ProductGood,
                    Topic::PriceGood,
                    Topic::SizingGood,
                    Topic::SupportHelpful,
                ][self.rng.below(10)]
            } else if score == 3 {
                Topic::NpsPassive
            } else {
                [Topic::ProductBad, Topic::PriceBad, Topic::SizingBad][self.rng.below(3)]
            };
            let t = t_del + self.rng.int(2 * HOUR, 3 * DAY);
            let tg = if late { tag::CSAT_LATE } else { tag::CSAT_ON_TIME };
            self.survey(t, order, "csat", score, topic, 0.6, pid, delay, tg);
        }
        // NPS after the first purchase.
        if first && self.rng.chance(0.40) {
            let mut score = self.rng.weighted(&p.nps) as i64;
            if late {
                score = (score - 3).max(0);
            }
            let topic = if score >= 9 {
                [Topic::NpsPromoter, Topic::NpsPromoter, Topic::ProductGood, Topic::DeliveryOnTime][self.rng.below(4)]
            } else if score >= 7 {
                Topic::NpsPassive
            } else if late {
                Topic::DeliveryLate
            } else if self.pi == DEAL_HUNTER {
                [Topic::PriceBad, Topic::CheckoutShipping, Topic::CheckoutShipping][self.rng.below(3)]
            } else {
                [Topic::PriceBad, Topic::ProductBad, Topic::SupportUnhelpful, Topic::CheckoutShipping]
                    [self.rng.below(4)]
            };
            let t = t_del + days(self.rng.uniform(1.0, 7.0));
            self.survey(t, order, "nps", score, topic, 0.5, pid, delay, tag::NONE);
        }
        t_del
    }

    /// CES right after checkout.
    fn ces(&mut self, t: i64, order: &Order) {
        let score = 1 + self.rng.weighted(&self.p.ces) as i64;
        let topic = if score >= 5 {
            Topic::CheckoutEasy
        } else if self.rng.chance(if self.pi == DEAL_HUNTER { 0.7 } else { 0.5 }) {
            Topic::CheckoutShipping
        } else {
            Topic::PriceBad
        };
        let pid = order.lines.first().map_or(0, |l| l.0);
        self.survey(t, order, "ces", score, topic, 0.5, pid, 0, tag::NONE);
    }

    #[allow(clippy::too_many_arguments)]
    fn survey(
        &mut self,
        t: i64,
        order: &Order,
        survey: &'static str,
        score: i64,
        topic: Topic,
        comment_p: f64,
        pid: usize,
        delay: i64,
        tg: u8,
    ) {
        let props = Obj::new()
            .s("survey_id", &format!("{survey}-{}", if survey == "ces" { "checkout" } else { "delivery" }))
            .s("order_id", &order.id)
            .done();
        let mut e = Ev::server(t, "Survey Responded", order.user).with_props(props).with_tag(tg);
        {
            let x = e.extra_mut();
            x.survey = Some(survey);
            x.score = Some(score as f64);
        }
        if self.rng.chance(comment_p) {
            let text = self.text(topic, pid, delay);
            e = e.with_text("comment", text);
        }
        self.emit(e);
    }

    fn text(&mut self, topic: Topic, pid: usize, delay: i64) -> String {
        let prod = &PRODUCTS[pid.min(PRODUCTS.len() - 1)];
        let agent = *self.rng.pick(&SUPPORT_AGENTS);
        let fill = Fill {
            product: prod.name,
            noun: prod.noun,
            days: if delay > 0 { delay } else { self.rng.int(5, 12) },
            agent,
        };
        texts::write(&mut self.rng, topic, &fill)
    }

    fn ticket(&mut self, t: i64, topic: Topic, order: &Order, pid: usize, delay: i64) {
        let id = self.next_id("T");
        let priority = if topic.is_negative() { "high" } else { "normal" };
        let props = Obj::new().s("ticket_id", &id).s("order_id", &order.id).s("priority", priority).done();
        let text = self.text(topic, pid, delay);
        let e = Ev::server(t, "Support Ticket Created", order.user)
            .with_props(props)
            .with_channel("Support")
            .with_text("text", text);
        self.emit(e);
    }

    /// A live chat (server-side events from the chat tool, with the device's
    /// anonymous id); returns when it ended.
    fn chat(&mut self, t: i64, opener: Topic, helpful: bool, pid: usize) -> i64 {
        let id = self.next_id("conv");
        let mut t = ms(t);
        let chat_ev = |t: i64, name: &'static str, id: &str| {
            let mut e = Ev::new(Kind::Track, t, name)
                .with_props(Obj::new().s("conversation_id", id).done())
                .with_channel("Chat");
            e.src = SRC_SERVER;
            e.slot = 1;
            e.user = U_AUTO;
            e
        };
        let first = self.text(opener, pid, 0);
        self.emit(chat_ev(t, "Live Chat Conversation Started", &id).with_text("text", first));
        t += self.rng.int(60, 400) * SECOND;
        let follow = if helpful { Topic::SupportHelpful } else { Topic::SupportUnhelpful };
        let second = self.text(follow, pid, 0);
        self.emit(chat_ev(t, "Live Chat Message Sent", &id).with_text("text", second));
        t += self.rng.int(20, 120) * SECOND;
        let ended = chat_ev(t, "Live Chat Conversation Ended", &id);
        self.emit(ended);
        self.touched |= Channel::Chat.bit();
        t
    }

    fn support_call(&mut self, t: i64, reason: &'static str, order: &Order) {
        let id = self.next_id("call");
        let props = Obj::new()
            .s("call_id", &id)
            .s("order_id", &order.id)
            .i("duration_seconds", self.rng.int(120, 1500))
            .s("reason", reason)
            .done();
        let user = if self.phone_known { U_PHONE } else { order.user };
        self.emit(Ev::server(t, "Support Call Completed", user).with_props(props).with_channel("Phone"));
    }

    /// A sales call: the first one introduces the customer's phone identity.
    fn phone_call(&mut self, t: i64, topic: &'static str) {
        let t = ms(t);
        if !self.phone_known {
            self.phone_known = true;
            if self.rng.chance(CRM_SHARE) {
                self.meta.crm_id = Some(crm_id(self.idx).into_boxed_str());
            }
            let mut traits = Obj::new()
                .s("email", &format!("{}@example.com", self.meta.web_id))
                .s("first_name", self.first_name)
                .s("city", self.city)
                .s("signup_reason", self.reason)
                .s("phone", &format!("+1-555-{:04}", self.idx % 10_000));
            if self.pi == BUSINESS_BUYER {
                traits = traits.i("company_size", self.company_size);
            }
            let mut e = Ev::new(Kind::Identify, t, "Identify").with_props(traits.done());
            e.src = SRC_SERVER;
            e.slot = 0;
            e.user = U_PHONE;
            self.emit(e);
            self.maybe_alias(t);
        }
        let id = self.next_id("call");
        let props = Obj::new()
            .s("call_id", &id)
            .i("duration_seconds", self.rng.int(180, 2400))
            .s("topic", topic)
            .s("sales_rep", self.rng.pick::<&str>(&SUPPORT_AGENTS))
            .done();
        let e = Ev::server(t + SECOND, "Sales Call Completed", U_PHONE).with_props(props).with_channel("Phone");
        self.emit(e);
        self.touched |= Channel::Phone.bit();
        if self.first_phone.is_none() {
            self.first_phone = Some(t);
        }
    }

    /// Links the CRM id to the web user id once both exist.
    fn maybe_alias(&mut self, t: i64) {
        if self.alias_done || self.meta.crm_id.is_none() || self.web_ident.is_none() {
            return;
        }
        self.alias_done = true;
        let mut e = Ev::new(Kind::Alias, t + 2 * SECOND, "Alias");
        e.src = SRC_SERVER;
        e.slot = 0;
        e.user = U_WEB;
        self.emit(e);
    }

    fn review(&mut self, t: i64, pid: usize, rating: i64, topic: Topic, advocacy: bool) {
        let prod = &PRODUCTS[pid.min(PRODUCTS.len() - 1)];
        let id = self.next_id("rev");
        let props =
            Obj::new().s("product_id", prod.id).s("sku", prod.sku).s("review_id", &id).i("rating", rating).done();
        let text = self.text(topic, pid, 0);
        let mut e = Ev::server(t, "Product Reviewed", U_WEB).with_props(props).with_text("review_body", text);
        if advocacy {
            e.tag = tag::ADVOCACY_REVIEW;
        }
        if self.web_ident.is_none() {
            e.user = U_PHONE;
        }
        self.emit(e);
    }

    /// Advocacy: good reviews, shares and referrals.
    fn advocacy(&mut self, t: i64, order: &Order) {
        if t >= self.end {
            return;
        }
        let pid = order.lines.first().map_or(0, |l| l.0);
        let mut review = self.rng.chance(0.7);
        let share = self.rng.chance(if self.pi == SOCIAL_BROWSER { 0.8 } else { 0.45 });
        let refer = self.rng.chance(0.35);
        if !review && !share && !refer {
            review = true;
        }
        if share || refer {
            let mut v = self.start_visit(t, Channel::Direct);
            if share {
                self.view(&mut v, Pg::Product(pid));
                self.product_viewed(&mut v, pid);
                let props = product_obj(pid, None).s("share_via", self.rng.pick::<&str>(&SHARE_VIA)).done();
                self.track(&mut v, "Product Shared", props);
            }
            if refer {
                self.view(&mut v, Pg::Account);
                let props = Obj::new()
                    .s("referral_code", &format!("NW-FRIEND-{}", self.idx + 1))
                    .s("medium", if self.rng.chance(0.5) { "email" } else { "link" })
                    .done();
                self.track(&mut v, "Referral Sent", props);
            }
        }
        if review {
            let rating = if self.rng.chance(0.7) { 5 } else { 4 };
            let t = t + self.rng.int(HOUR, 3 * DAY);
            self.review(t, pid, rating, Topic::ReviewPositive, true);
        }
    }

    // -----------------------------------------------------------------------
    // Newsletter
    // -----------------------------------------------------------------------

    /// The next weekly send (Tuesdays 14:00 UTC plus this customer's slot in
    /// the batch) at or after `after`.
    fn next_send(&self, after: i64) -> i64 {
        let day = after.div_euclid(DAY);
        let wd = weekday(after);
        let d = day + (1 - wd).rem_euclid(7);
        let mut t = d * DAY + 14 * HOUR + self.email_offset;
        if t < after {
            t += 7 * DAY;
        }
        t
    }

    fn emails(&mut self, stop: i64) {
        let Some(from) = self.web_ident else { return };
        if !self.newsletter {
            return;
        }
        let stop = stop.min(self.end);
        let p = self.p;
        let mut t = self.next_send(from + MINUTE);
        while t < stop {
            let date = format_date(t);
            let email_id = format!("weekly-{date}");
            let campaign = Arc::new(CampaignCtx {
                source: Box::from("newsletter"),
                medium: "email",
                name: Some(email_id.clone().into_boxed_str()),
                term: None,
            });
            let subject = *self.rng.pick(&EMAIL_SUBJECTS);
            let props =
                Obj::new().s("email_id", &email_id).s("email_subject", subject).s("campaign_name", "weekly").done();
            let mut e = Ev::server(t, "Email Delivered", U_WEB).with_props(props).with_tag(tag::COMPANY);
            e.campaign = Some(Arc::clone(&campaign));
            self.emit(e);
            if self.rng.chance(p.open_rate) {
                let t_open = t + self.rng.int(10 * MINUTE, 36 * HOUR);
                if t_open < stop {
                    let mut e = Ev::server(t_open, "Email Opened", U_WEB)
                        .with_props(Obj::new().s("email_id", &email_id).done());
                    e.campaign = Some(Arc::clone(&campaign));
                    self.emit(e);
                    let click = (p.click_rate / p.open_rate).min(1.0);
                    if self.rng.chance(click) {
                        let t_click = t_open + self.rng.int(5 * SECOND, 5 * MINUTE);
                        let ok = self.cons_at.is_some_and(|c| c <= t_click);
                        if ok && t_click + 40 * MINUTE < stop {
                            let cat = self.pick_cat();
                            let link = format!(
                                "{BASE}/c/{}?utm_source=newsletter&utm_medium=email&utm_campaign={email_id}",
                                CATEGORIES[cat]
                            );
                            let props = Obj::new().s("email_id", &email_id).s("link_url", &link).done();
                            let mut e = Ev::server(t_click, "Email Link Clicked", U_WEB).with_props(props);
                            e.campaign = Some(Arc::clone(&campaign));
                            self.emit(e);
                            self.email_visit(t_click + 2 * SECOND, cat, &email_id, Arc::clone(&campaign));
                        }
                    }
                }
            }
            t += 7 * DAY;
        }
    }

    /// The landing visit after a newsletter click (main device).
    fn email_visit(&mut self, t: i64, cat: usize, campaign_name: &str, campaign: Arc<CampaignCtx>) {
        let app = self.meta.devices[0].platform.is_app();
        let query = format!("utm_source=newsletter&utm_medium=email&utm_campaign={campaign_name}");
        let mut v = self.open_visit(t, 1, app, Some(query), String::new(), Some(campaign));
        self.view(&mut v, Pg::Category(cat));
        let n = self.rng.int(0, 2);
        for _ in 0..n {
            let pid = cat * 8 + self.rng.below(8);
            self.view(&mut v, Pg::Product(pid));
            self.product_viewed(&mut v, pid);
        }
    }

    // -----------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------

    fn emit(&mut self, mut e: Ev) {
        e.ts = ms(e.ts);
        e.cust = self.idx;
        e.anon_owner = self.idx;
        e.seq = self.events.len() as u32;
        if e.src == SRC_DEVICE && e.slot > 0 {
            let pf = self.meta.devices[usize::from(e.slot - 1)].platform;
            e.local_tz = pf.is_mobile() && self.rng.chance(0.03);
        }
        if self.cons_at.is_none() && e.kind == Kind::Track && is_consideration_or_later(e.name) {
            self.cons_at = Some(e.ts);
        }
        self.last = self.last.max(e.ts);
        self.events.push(e);
    }

    fn exp_days(&mut self, mean: f64) -> i64 {
        let d = self.rng.exp(mean);
        days(d)
    }

    /// A category: usually one the customer focuses on, else any by the
    /// persona's interests.
    fn pick_cat(&mut self) -> usize {
        let any = self.rng.weighted(&self.p.categories);
        if self.prod.chance(FOCUS) { self.focus[usize::from(self.prod.chance(0.35))] } else { any }
    }

    fn pick_product(&mut self) -> usize {
        let cat = self.pick_cat();
        cat * 8 + self.rng.below(8)
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}-{}", self.idx + 1, self.counter)
    }

    fn next_order_id(&mut self) -> String {
        self.counter += 1;
        format!("NW-{:06}-{}", self.idx + 1, self.counter)
    }

    // -----------------------------------------------------------------------
    // Finishing
    // -----------------------------------------------------------------------

    fn finish(mut self) -> CustomerOut {
        let end = self.end;
        let mut ev = std::mem::take(&mut self.events);
        ev.retain(|e| e.ts < end);
        ev.sort_unstable_by_key(|e| (e.ts, e.seq));
        let login1 = first_login(&ev, 1);
        let login2 = first_login(&ev, 2);
        if login2.is_none() {
            // A second device that never logged in (cut by the window) would
            // be a stranger: drop its events.
            ev.retain(|e| e.slot != 2);
        }
        for e in &mut ev {
            if e.user == U_AUTO {
                let login = match e.slot {
                    1 => login1,
                    2 => login2,
                    _ => None,
                };
                e.user = match login {
                    Some(l) if (e.ts, e.seq) >= l => U_WEB,
                    _ if e.slot == 0 => U_WEB,
                    _ => U_NONE,
                };
            }
            if e.user == U_NONE && e.slot == 0 {
                e.slot = 1;
            }
        }
        let mut facts = measure(&ev, &self.meta, login1.map(|l| l.0));
        facts.decision = self.decision.filter(|d| d.2 < end).map(|d| (d.0, d.1));
        CustomerOut { events: ev, meta: self.meta, facts }
    }
}

/// A duration of `d` days in microseconds (clamped to 10,000 days).
fn days(d: f64) -> i64 {
    if d.is_finite() { (d.clamp(0.0, 10_000.0) * DAY as f64) as i64 } else { 10_000 * DAY }
}

fn first_login(ev: &[Ev], slot: u8) -> Option<(i64, u32)> {
    ev.iter().find(|e| e.kind == Kind::Identify && e.slot == slot && e.user == U_WEB).map(|e| (e.ts, e.seq))
}

/// Measures the truth facts on a customer's final events.
fn measure(ev: &[Ev], meta: &CustomerMeta, main_login: Option<i64>) -> Facts {
    let mut f = Facts { main_login, ..Facts::default() };
    let mut purchases = 0u32;
    let mut seen = [false; 6];
    for e in ev.iter().filter(|e| e.is_interaction()) {
        let s = stage_of(e, &mut purchases);
        seen[s] = true;
        f.stage_reached = f.stage_reached.max(s);
        if e.name == "Order Completed" && e.kind == Kind::Track {
            f.orders += 1;
            f.revenue += e.revenue().unwrap_or(0.0);
        }
        match e.tag {
            tag::DELIVERY_FIRST => f.deliveries[0] += 1,
            tag::DELIVERY_FIRST_LATE => f.deliveries[1] += 1,
            tag::DELIVERY_REPEAT => f.deliveries[2] += 1,
            tag::DELIVERY_REPEAT_LATE => f.deliveries[3] += 1,
            tag::CSAT_LATE => {
                f.csat_late.0 += e.score().unwrap_or(0.0);
                f.csat_late.1 += 1;
            }
            tag::CSAT_ON_TIME => {
                f.csat_on_time.0 += e.score().unwrap_or(0.0);
                f.csat_on_time.1 += 1;
            }
            _ => {}
        }
    }
    f.phone_skip = f.stage_reached >= 3 && (!seen[1] || !seen[2]);
    if f.stage_reached == 2 {
        let last = ev.iter().rev().find(|e| e.is_interaction() && !is_company_event(e.name));
        f.exit_at_shipping = Some(last.is_some_and(|e| e.tag == tag::SHIPPING_PAGE));
    }
    let mut users: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !users.iter().any(|u| u == s) {
            users.push(s.to_string());
        }
    };
    for code in [U_WEB, U_PHONE] {
        if ev.iter().any(|e| e.user == code)
            && let Some(id) = meta.user_id(code)
        {
            push(id);
        }
    }
    if ev.iter().any(|e| e.kind == Kind::Alias)
        && let Some(c) = meta.crm_id.as_deref()
    {
        push(c);
    }
    f.identified = !users.is_empty();
    f.user_ids = users;
    for slot in [1u8, 2] {
        if ev.iter().any(|e| e.slot == slot) {
            f.anonymous_ids.push(meta.anon[usize::from(slot - 1)].to_string());
        }
    }
    f
}

// ---------------------------------------------------------------------------
// Property builders
// ---------------------------------------------------------------------------

fn product_obj(pid: usize, url: Option<&str>) -> Obj {
    let p = &PRODUCTS[pid.min(PRODUCTS.len() - 1)];
    let o = Obj::new()
        .s("product_id", p.id)
        .s("sku", p.sku)
        .s("category", CATEGORIES[p.cat])
        .s("name", p.name)
        .s("brand", p.brand)
        .n("price", p.price);
    match url {
        Some(u) => o.s("url", u),
        None => o,
    }
}

fn list_products(cat: usize) -> String {
    let mut s = String::from("[");
    for (j, p) in in_category(cat).iter().take(4).enumerate() {
        if j > 0 {
            s.push(',');
        }
        s.push_str(
            &Obj::new().s("product_id", p.id).s("sku", p.sku).n("price", p.price).i("position", j as i64 + 1).text(),
        );
    }
    s.push(']');
    s
}

fn products_json(lines: &[(usize, u32)]) -> String {
    let mut s = String::from("[");
    for (j, &(pid, qty)) in lines.iter().enumerate() {
        if j > 0 {
            s.push(',');
        }
        let p = &PRODUCTS[pid.min(PRODUCTS.len() - 1)];
        s.push_str(
            &product_obj(pid, None)
                .i("quantity", i64::from(qty))
                .s("url", &format!("{BASE}/p/{}", p.sku.to_ascii_lowercase()))
                .text(),
        );
    }
    s.push(']');
    s
}

/// `Order Completed` properties (without `revenue`, which is returned).
fn order_props(order_id: &str, lines: &[(usize, u32)], coupon: Option<(&str, f64)>) -> (Box<str>, f64) {
    let subtotal =
        cents(lines.iter().map(|&(pid, q)| PRODUCTS[pid.min(PRODUCTS.len() - 1)].price * f64::from(q)).sum());
    let discount = coupon.map_or(0.0, |c| cents(subtotal * c.1));
    let revenue = cents(subtotal - discount);
    let shipping = if revenue >= 99.0 { 0.0 } else { 8.95 };
    let tax = cents(revenue * 0.08);
    let total = cents(revenue + shipping + tax);
    let mut o = Obj::new()
        .s("order_id", order_id)
        .n("total", total)
        .n("subtotal", subtotal)
        .n("shipping", shipping)
        .n("tax", tax)
        .n("discount", discount);
    if let Some(c) = coupon {
        o = o.s("coupon", c.0);
    }
    let props = o.s("currency", "USD").raw("products", &products_json(lines)).done();
    (props, revenue)
}

fn screen_props(pg: Pg) -> Box<str> {
    match pg {
        Pg::Product(pid) => {
            let p = &PRODUCTS[pid.min(PRODUCTS.len() - 1)];
            Obj::new().s("product_id", p.id).s("sku", p.sku).s("product_name", p.name).done()
        }
        Pg::Category(c) => Obj::new().s("category", CATEGORIES[c.min(5)]).done(),
        Pg::Search(q) => Obj::new().s("query", QUERIES[q.min(QUERIES.len() - 1)].0).done(),
        _ => Box::from(""),
    }
}

/// Events of customer `cust` signing in on the laptop of customer `owner`
/// (whose anonymous id they carry): a login and a few pages, all with
/// `cust`'s user id. Sequence numbers start at `seq0`.
pub(crate) fn shared_laptop_events(
    rng: &mut Rng,
    owner: u32,
    owner_platform: Platform,
    cust: u32,
    t0: i64,
    seq0: u32,
) -> Vec<Ev> {
    let app = owner_platform.is_app();
    let n = 1 + rng.below(3);
    let mut out = Vec::with_capacity(n + 1);
    let mut t = ms(t0);
    let mut seq = seq0;
    let mut prev_url: Option<Box<str>> = None;
    for i in 0..n {
        let pg = match i {
            0 => Pg::Account,
            1 => Pg::Home,
            _ => Pg::Category(rng.below(CATEGORIES.len())),
        };
        let page = (!app).then(|| {
            Arc::new(PageCtx {
                url: format!("{BASE}{}", pg.path()).into_boxed_str(),
                referrer: prev_url.clone().unwrap_or_default(),
                title: pg.title().into_boxed_str(),
                name: pg.name(),
                category: pg.category(),
            })
        });
        let (kind, name) = if app { (Kind::Screen, pg.screen()) } else { (Kind::Page, pg.name()) };
        let mut e = Ev::new(kind, t, name);
        e.page = page.clone();
        if app {
            e.props = screen_props(pg);
        }
        let mut ev = vec![e];
        if i == 0 {
            let traits = Obj::new().s("email", &format!("{}@example.com", web_user_id(cust))).done();
            let mut id = Ev::new(Kind::Identify, t + 2 * SECOND, "Identify").with_props(traits);
            id.page = page.clone();
            ev.push(id);
        }
        for mut e in ev {
            e.user = U_WEB;
            e.slot = 1;
            e.cust = cust;
            e.anon_owner = owner;
            e.seq = seq;
            seq += 1;
            out.push(e);
        }
        t += rng.int(10, 90) * SECOND + rng.int(0, 999) * 1000;
        prev_url = page.map(|p| p.url.clone());
    }
    out
}
