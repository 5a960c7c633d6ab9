//! Northwind Outfitters' static world: the shop's URL, product catalogue,
//! pages (home, category, product, search, cart, checkout, help, blog,
//! account) and app screens, traffic sources (search engines, social sites,
//! affiliates, industry sites, campaign names), devices, user agents, and the
//! word lists for names and cities.

/// The shop's origin; every web page lives under it.
pub(crate) const BASE: &str = "https://shop.northwind.example";
pub(crate) const SHOP_NAME: &str = "Northwind Outfitters";

pub(crate) const CATEGORIES: [&str; 6] = ["tents", "backpacks", "jackets", "boots", "stoves", "sleeping-bags"];
pub(crate) const CATEGORY_TITLES: [&str; 6] = ["Tents", "Backpacks", "Jackets", "Boots", "Stoves", "Sleeping bags"];

#[derive(Debug)]
pub(crate) struct Product {
    pub id: &'static str,
    pub sku: &'static str,
    pub name: &'static str,
    pub brand: &'static str,
    pub cat: usize,
    pub price: f64,
    /// A short noun for comments ("tent", "jacket").
    pub noun: &'static str,
}

macro_rules! p {
    ($id:expr, $sku:expr, $name:expr, $brand:expr, $cat:expr, $price:expr, $noun:expr) => {
        Product { id: $id, sku: $sku, name: $name, brand: $brand, cat: $cat, price: $price, noun: $noun }
    };
}

pub(crate) static PRODUCTS: [Product; 48] = [
    p!("1001", "NW-TEN-01", "Ridgeline 2P Backpacking Tent", "Northwind", 0, 329.0, "tent"),
    p!("1002", "NW-TEN-02", "Ridgeline 3P Backpacking Tent", "Northwind", 0, 399.0, "tent"),
    p!("1003", "NW-TEN-03", "Basecamp 6 Family Tent", "Trailcraft", 0, 549.0, "tent"),
    p!("1004", "NW-TEN-04", "Solo Trekker 1P Tent", "Alpenglow", 0, 229.0, "tent"),
    p!("1005", "NW-TEN-05", "Weekender 4 Dome Tent", "Trailcraft", 0, 159.0, "tent"),
    p!("1006", "NW-TEN-06", "Summit Storm 2P Mountaineering Tent", "Summitline", 0, 649.0, "tent"),
    p!("1007", "NW-TEN-07", "Tent Footprint 2P", "Northwind", 0, 39.0, "footprint"),
    p!("1008", "NW-TEN-08", "Ultralight Tent Stakes (8-pack)", "Northwind", 0, 19.0, "stakes"),
    p!("1101", "NW-BAG-01", "Trailhead 18L Daypack", "Northwind", 1, 49.0, "daypack"),
    p!("1102", "NW-BAG-02", "Ridge 28L Hiking Pack", "Northwind", 1, 89.0, "backpack"),
    p!("1103", "NW-BAG-03", "Traverse 45L Trekking Pack", "Alpenglow", 1, 169.0, "backpack"),
    p!("1104", "NW-BAG-04", "Expedition 65L Backpack", "Summitline", 1, 279.0, "backpack"),
    p!("1105", "NW-BAG-05", "Commuter 22L Pack", "Trailcraft", 1, 69.0, "backpack"),
    p!("1106", "NW-BAG-06", "Kids Explorer 12L Pack", "Trailcraft", 1, 35.0, "backpack"),
    p!("1107", "NW-BAG-07", "Pack Rain Cover", "Northwind", 1, 15.0, "rain cover"),
    p!("1108", "NW-BAG-08", "Hydration Bladder 2L", "Northwind", 1, 29.0, "bladder"),
    p!("1201", "NW-JKT-01", "Storm Shell Rain Jacket", "Northwind", 2, 189.0, "jacket"),
    p!("1202", "NW-JKT-02", "Down Puffer Jacket", "Alpenglow", 2, 229.0, "jacket"),
    p!("1203", "NW-JKT-03", "Fleece Midlayer", "Northwind", 2, 69.0, "fleece"),
    p!("1204", "NW-JKT-04", "Softshell Hiking Jacket", "Trailcraft", 2, 129.0, "jacket"),
    p!("1205", "NW-JKT-05", "Alpine Hardshell Jacket", "Summitline", 2, 379.0, "jacket"),
    p!("1206", "NW-JKT-06", "Packable Wind Shirt", "Northwind", 2, 59.0, "wind shirt"),
    p!("1207", "NW-JKT-07", "Insulated Vest", "Alpenglow", 2, 99.0, "vest"),
    p!("1208", "NW-JKT-08", "Merino Beanie", "Northwind", 2, 25.0, "beanie"),
    p!("1301", "NW-BOT-01", "Trailrunner Low Hiking Shoe", "Trailcraft", 3, 119.0, "shoes"),
    p!("1302", "NW-BOT-02", "Ridgewalker Mid Waterproof Boot", "Northwind", 3, 169.0, "boots"),
    p!("1303", "NW-BOT-03", "Summit Pro Mountaineering Boot", "Summitline", 3, 329.0, "boots"),
    p!("1304", "NW-BOT-04", "Approach Shoe", "Alpenglow", 3, 139.0, "shoes"),
    p!("1305", "NW-BOT-05", "Winter Snow Boot", "Trailcraft", 3, 149.0, "boots"),
    p!("1306", "NW-BOT-06", "Camp Sandal", "Northwind", 3, 45.0, "sandals"),
    p!("1307", "NW-BOT-07", "Merino Hiking Socks (3-pack)", "Northwind", 3, 24.0, "socks"),
    p!("1308", "NW-BOT-08", "Trail Gaiters", "Northwind", 3, 35.0, "gaiters"),
    p!("1401", "NW-STV-01", "Pocket Canister Stove", "Northwind", 4, 39.0, "stove"),
    p!("1402", "NW-STV-02", "Jetflame Cooking System", "Alpenglow", 4, 129.0, "stove"),
    p!("1403", "NW-STV-03", "Two-Burner Camp Stove", "Trailcraft", 4, 149.0, "stove"),
    p!("1404", "NW-STV-04", "Titanium Pot Set", "Summitline", 4, 79.0, "pot set"),
    p!("1405", "NW-STV-05", "Fuel Canister 230g", "Northwind", 4, 8.0, "fuel canister"),
    p!("1406", "NW-STV-06", "Camp Kitchen Utensil Set", "Northwind", 4, 19.0, "utensil set"),
    p!("1407", "NW-STV-07", "Insulated Camp Mug", "Northwind", 4, 22.0, "mug"),
    p!("1408", "NW-STV-08", "Multi-Fuel Expedition Stove", "Summitline", 4, 189.0, "stove"),
    p!("1501", "NW-SLP-01", "Downlight 20F Sleeping Bag", "Northwind", 5, 279.0, "sleeping bag"),
    p!("1502", "NW-SLP-02", "Summer Breeze 40F Sleeping Bag", "Trailcraft", 5, 89.0, "sleeping bag"),
    p!("1503", "NW-SLP-03", "Arctic 0F Expedition Bag", "Summitline", 5, 449.0, "sleeping bag"),
    p!("1504", "NW-SLP-04", "Family Double Sleeping Bag", "Trailcraft", 5, 129.0, "sleeping bag"),
    p!("1505", "NW-SLP-05", "Sleeping Bag Liner", "Northwind", 5, 35.0, "liner"),
    p!("1506", "NW-SLP-06", "Inflatable Camp Pillow", "Northwind", 5, 29.0, "pillow"),
    p!("1507", "NW-SLP-07", "Self-Inflating Sleeping Pad", "Alpenglow", 5, 99.0, "sleeping pad"),
    p!("1508", "NW-SLP-08", "Kids Sleeping Bag", "Trailcraft", 5, 59.0, "sleeping bag"),
];

/// Products of a category (8 per category, in catalogue order).
pub(crate) fn in_category(cat: usize) -> &'static [Product] {
    let start = (cat.min(5)) * 8;
    &PRODUCTS[start..start + 8]
}

pub(crate) const BLOG: [(&str, &str); 8] = [
    ("how-to-choose-a-backpacking-tent", "How to choose a backpacking tent"),
    ("layering-for-cold-hikes", "Layering for cold hikes"),
    ("best-day-hikes-this-summer", "The best day hikes this summer"),
    ("camp-cooking-101", "Camp cooking 101"),
    ("breaking-in-hiking-boots", "Breaking in hiking boots"),
    ("sleeping-warm-on-cold-nights", "Sleeping warm on cold nights"),
    ("leave-no-trace-basics", "Leave no trace basics"),
    ("first-backpacking-trip-checklist", "Your first backpacking trip: a checklist"),
];

pub(crate) const HELP: [(&str, &str); 3] =
    [("shipping", "Shipping and delivery"), ("returns", "Returns and exchanges"), ("sizing", "Size guide")];

/// Site-search queries, with the category they lead to.
pub(crate) const QUERIES: [(&str, usize); 12] = [
    ("2 person tent", 0),
    ("ultralight tent", 0),
    ("daypack", 1),
    ("hiking backpack", 1),
    ("rain jacket", 2),
    ("down jacket", 2),
    ("waterproof boots", 3),
    ("hiking socks", 3),
    ("camp stove", 4),
    ("fuel canister", 4),
    ("down sleeping bag", 5),
    ("sleeping pad", 5),
];

/// A page of the shop (web).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pg {
    Home,
    Category(usize),
    Product(usize),
    Search(usize),
    Cart,
    Shipping,
    Payment,
    Confirmation,
    Help(usize),
    Blog(usize),
    Account,
}

impl Pg {
    /// Path and query (without the origin).
    pub(crate) fn path(self) -> String {
        match self {
            Pg::Home => "/".to_string(),
            Pg::Category(c) => format!("/c/{}", CATEGORIES[c.min(5)]),
            Pg::Product(p) => format!("/p/{}", PRODUCTS[p.min(47)].sku.to_ascii_lowercase()),
            Pg::Search(q) => format!("/search?q={}", QUERIES[q.min(11)].0.replace(' ', "+")),
            Pg::Cart => "/cart".to_string(),
            Pg::Shipping => "/checkout/shipping".to_string(),
            Pg::Payment => "/checkout/payment".to_string(),
            Pg::Confirmation => "/checkout/confirmation".to_string(),
            Pg::Help(h) => format!("/help/{}", HELP[h.min(2)].0),
            Pg::Blog(b) => format!("/blog/{}", BLOG[b.min(7)].0),
            Pg::Account => "/account".to_string(),
        }
    }

    pub(crate) fn title(self) -> String {
        let head = match self {
            Pg::Home => return format!("{SHOP_NAME} | Outdoor gear for every trail"),
            Pg::Category(c) => CATEGORY_TITLES[c.min(5)].to_string(),
            Pg::Product(p) => PRODUCTS[p.min(47)].name.to_string(),
            Pg::Search(q) => format!("Search results for {}", QUERIES[q.min(11)].0),
            Pg::Cart => "Your cart".to_string(),
            Pg::Shipping => "Checkout: shipping".to_string(),
            Pg::Payment => "Checkout: payment".to_string(),
            Pg::Confirmation => "Thank you for your order".to_string(),
            Pg::Help(h) => HELP[h.min(2)].1.to_string(),
            Pg::Blog(b) => BLOG[b.min(7)].1.to_string(),
            Pg::Account => "Your account".to_string(),
        };
        format!("{head} | {SHOP_NAME}")
    }

    /// Segment page name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Pg::Home => "Home",
            Pg::Category(_) => "Category",
            Pg::Product(_) => "Product",
            Pg::Search(_) => "Search",
            Pg::Cart => "Cart",
            Pg::Shipping => "Checkout Shipping",
            Pg::Payment => "Checkout Payment",
            Pg::Confirmation => "Order Confirmation",
            Pg::Help(_) => "Help",
            Pg::Blog(_) => "Blog Post",
            Pg::Account => "Account",
        }
    }

    /// Segment page category.
    pub(crate) fn category(self) -> &'static str {
        match self {
            Pg::Home | Pg::Category(_) | Pg::Product(_) | Pg::Search(_) => "Shop",
            Pg::Cart | Pg::Shipping | Pg::Payment | Pg::Confirmation => "Checkout",
            Pg::Help(_) => "Help",
            Pg::Blog(_) => "Blog",
            Pg::Account => "Account",
        }
    }

    /// App screen name for the same content.
    pub(crate) fn screen(self) -> &'static str {
        match self {
            Pg::Home => "Home",
            Pg::Category(_) => "Category",
            Pg::Product(_) => "Product Detail",
            Pg::Search(_) => "Search Results",
            Pg::Cart => "Cart",
            Pg::Shipping | Pg::Payment | Pg::Confirmation => "Checkout",
            Pg::Help(_) => "Help",
            Pg::Blog(_) => "Inspiration",
            Pg::Account => "Account",
        }
    }
}

// ---------------------------------------------------------------------------
// Traffic sources
// ---------------------------------------------------------------------------

pub(crate) const SEARCH_REFERRERS: [&str; 4] =
    ["https://www.google.com/", "https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/"];
pub(crate) const SOCIAL_REFERRERS: [&str; 5] = [
    "https://t.co/",
    "https://www.instagram.com/",
    "https://www.pinterest.com/",
    "https://l.facebook.com/",
    "https://www.facebook.com/",
];
/// App deep links from social sites: (utm_source, utm_medium).
pub(crate) const SOCIAL_APP_SOURCES: [&str; 4] = ["instagram.com", "pinterest.com", "facebook.com", "t.co"];
pub(crate) const VIDEO_REFERRER: &str = "https://www.youtube.com/";
/// Outdoor industry and review sites that link to the shop.
pub(crate) const REFERRAL_SITES: [&str; 6] = [
    "https://www.gearjunkie.com/best-backpacking-tents",
    "https://www.outdoorgearlab.com/topics/camping-and-hiking",
    "https://www.switchbacktravel.com/best-hiking-boots",
    "https://www.backpacker.com/gear/",
    "https://www.outdoorindustry.org/members/suppliers/",
    "https://www.campmanagement.example/vendors",
];
pub(crate) const AFFILIATES: [&str; 4] = ["couponfollow", "retailmenot", "slickdeals", "dealnews"];
pub(crate) const DISPLAY_SOURCES: [&str; 3] = ["gdn", "criteo", "adroll"];
pub(crate) const PAID_SEARCH_CAMPAIGNS: [&str; 6] = [
    "brand-northwind",
    "generic-tents",
    "generic-boots",
    "generic-jackets",
    "generic-backpacks",
    "generic-sleeping-bags",
];
pub(crate) const PAID_SEARCH_TERMS: [&str; 6] =
    ["northwind outfitters", "backpacking tent", "hiking boots", "rain jacket", "hiking backpack", "sleeping bag"];
pub(crate) const SHOPPING_CAMPAIGNS: [&str; 3] = ["shopping-feed-all", "pmax-shopping-gear", "shopping-feed-gifts"];
pub(crate) const SOCIAL_CAMPAIGNS: [&str; 4] =
    ["summer-adventures-carousel", "new-jackets-reels", "trail-ready-stories", "lookalike-hikers"];
pub(crate) const DISPLAY_CAMPAIGNS: [&str; 3] =
    ["retargeting-viewed-products", "prospecting-outdoor", "autumn-gear-banners"];
pub(crate) const AFFILIATE_CAMPAIGNS: [&str; 3] = ["aff-promo-codes", "aff-weekly-deals", "aff-clearance"];
pub(crate) const EMAIL_CAMPAIGNS: [&str; 3] = ["welcome-series", "gear-guide", "partner-newsletter"];

// ---------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------

pub(crate) const DESKTOP_UA: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:137.0) Gecko/20100101 Firefox/137.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Safari/537.36 Edg/135.0.0.0",
];
pub(crate) const IOS_UA: [&str; 2] = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
];
pub(crate) const ANDROID_UA: [&str; 2] = [
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Mobile Safari/537.36",
];
/// (model, OS version) of iPhones.
pub(crate) const IOS_MODELS: [(&str, &str); 4] =
    [("iPhone15,2", "18.3"), ("iPhone16,1", "18.3"), ("iPhone14,5", "17.6"), ("iPhone17,3", "18.4")];
/// (manufacturer, model, OS version) of Android phones.
pub(crate) const ANDROID_MODELS: [(&str, &str, &str); 4] = [
    ("Google", "Pixel 8", "14"),
    ("samsung", "SM-S921B", "14"),
    ("samsung", "SM-A546B", "14"),
    ("OnePlus", "CPH2581", "15"),
];

// ---------------------------------------------------------------------------
// People
// ---------------------------------------------------------------------------

pub(crate) const FIRST_NAMES: [&str; 40] = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Isabella", "Lucas", "Mia", "James", "Amelia",
    "Benjamin", "Harper", "Elijah", "Evelyn", "Logan", "Abigail", "Alex", "Emily", "Jacob", "Ella", "Michael", "Grace",
    "Daniel", "Chloe", "Henry", "Zoe", "Jack", "Lily", "Samuel", "Nora", "David", "Hannah", "Owen", "Aria", "Wyatt",
    "Layla", "Leo",
];

/// (city, UTC offset in minutes during the simulated months).
pub(crate) const CITIES: [(&str, i32); 24] = [
    ("Seattle", -420),
    ("Portland", -420),
    ("Denver", -360),
    ("Boulder", -360),
    ("Salt Lake City", -360),
    ("San Francisco", -420),
    ("Los Angeles", -420),
    ("San Diego", -420),
    ("Phoenix", -420),
    ("Austin", -300),
    ("Chicago", -300),
    ("Minneapolis", -300),
    ("Boston", -240),
    ("New York", -240),
    ("Burlington", -240),
    ("Asheville", -240),
    ("Atlanta", -240),
    ("Bozeman", -360),
    ("Anchorage", -480),
    ("Honolulu", -600),
    ("Vancouver", -420),
    ("Toronto", -240),
    ("London", 60),
    ("Berlin", 120),
];

pub(crate) const SUPPORT_AGENTS: [&str; 8] = ["Maya", "Tom", "Priya", "Jonas", "Carla", "Ben", "Aiko", "Sam"];

pub(crate) const COMPANY_SIZES: [i64; 6] = [8, 15, 40, 120, 350, 1200];

pub(crate) const OTHER_REASONS: [&str; 5] = ["deals", "favourite_brand", "saw_on_social", "for_my_company", "gift"];
