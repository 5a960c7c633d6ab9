//! Free text written by the simulated customers: survey comments, reviews,
//! support tickets and chat messages, built from templates and word lists.
//!
//! Every template of a negative topic carries clearly negative words from
//! VADER's lexicon (disappointed, frustrating, terrible, ...) and every
//! template of a positive topic clearly positive ones (great, love,
//! excellent, ...), so that a lexicon-based sentiment analyser scores them on
//! the intended side. Late-delivery texts mention the delivery (and mostly
//! "late"), which is what the injected Retention pain point is about.
//! Placeholders: `{product}`, `{noun}`, `{days}`, `{agent}`.

use crate::rng::Rng;

/// What a piece of text is about, and on which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    DeliveryLate,
    DeliveryOnTime,
    ProductGood,
    ProductBad,
    SupportHelpful,
    SupportUnhelpful,
    CheckoutEasy,
    CheckoutShipping,
    PriceGood,
    PriceBad,
    SizingGood,
    SizingBad,
    ReviewPositive,
    ReviewNegative,
    ReviewMixed,
    NpsPromoter,
    NpsPassive,
    ChatQuestion,
    TicketLate,
    TicketProduct,
    TicketBusiness,
    TicketGeneral,
}

impl Topic {
    pub(crate) fn is_negative(self) -> bool {
        matches!(
            self,
            Topic::DeliveryLate
                | Topic::ProductBad
                | Topic::SupportUnhelpful
                | Topic::CheckoutShipping
                | Topic::PriceBad
                | Topic::SizingBad
                | Topic::ReviewNegative
                | Topic::TicketLate
                | Topic::TicketProduct
        )
    }

    pub(crate) fn is_positive(self) -> bool {
        matches!(
            self,
            Topic::DeliveryOnTime
                | Topic::ProductGood
                | Topic::SupportHelpful
                | Topic::CheckoutEasy
                | Topic::PriceGood
                | Topic::SizingGood
                | Topic::ReviewPositive
                | Topic::NpsPromoter
        )
    }

    fn templates(self) -> &'static [&'static str] {
        match self {
            Topic::DeliveryLate => DELIVERY_LATE,
            Topic::DeliveryOnTime => DELIVERY_ON_TIME,
            Topic::ProductGood => PRODUCT_GOOD,
            Topic::ProductBad => PRODUCT_BAD,
            Topic::SupportHelpful => SUPPORT_HELPFUL,
            Topic::SupportUnhelpful => SUPPORT_UNHELPFUL,
            Topic::CheckoutEasy => CHECKOUT_EASY,
            Topic::CheckoutShipping => CHECKOUT_SHIPPING,
            Topic::PriceGood => PRICE_GOOD,
            Topic::PriceBad => PRICE_BAD,
            Topic::SizingGood => SIZING_GOOD,
            Topic::SizingBad => SIZING_BAD,
            Topic::ReviewPositive => REVIEW_POSITIVE,
            Topic::ReviewNegative => REVIEW_NEGATIVE,
            Topic::ReviewMixed => REVIEW_MIXED,
            Topic::NpsPromoter => NPS_PROMOTER,
            Topic::NpsPassive => NPS_PASSIVE,
            Topic::ChatQuestion => CHAT_QUESTION,
            Topic::TicketLate => TICKET_LATE,
            Topic::TicketProduct => TICKET_PRODUCT,
            Topic::TicketBusiness => TICKET_BUSINESS,
            Topic::TicketGeneral => TICKET_GENERAL,
        }
    }
}

/// Values for the placeholders.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fill<'a> {
    pub product: &'a str,
    pub noun: &'a str,
    pub days: i64,
    pub agent: &'a str,
}

/// One text on `topic`: a template, filled, sometimes with a closing remark
/// of the same polarity.
pub(crate) fn write(rng: &mut Rng, topic: Topic, fill: &Fill<'_>) -> String {
    let template = *rng.pick(topic.templates());
    let mut s = render(template, fill);
    let closers: &[&str] = if topic.is_negative() {
        NEGATIVE_CLOSERS
    } else if topic.is_positive() {
        POSITIVE_CLOSERS
    } else {
        &[]
    };
    if !closers.is_empty() && rng.chance(0.35) {
        s.push(' ');
        s.push_str(rng.pick::<&str>(closers));
    }
    s
}

fn render(template: &str, fill: &Fill<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 24);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        match &after[..close] {
            "product" => out.push_str(fill.product),
            "noun" => out.push_str(fill.noun),
            "days" => out.push_str(&fill.days.to_string()),
            "agent" => out.push_str(fill.agent),
            other => {
                out.push('{');
                out.push_str(other);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

const NEGATIVE_CLOSERS: &[&str] = &[
    "Really disappointed.",
    "So frustrating.",
    "Very poor.",
    "Unacceptable.",
    "Bad experience overall.",
    "Not happy.",
    "Annoying.",
];

const POSITIVE_CLOSERS: &[&str] =
    &["Thanks!", "Great job.", "Love it.", "Very happy.", "Highly recommend.", "Thank you, Northwind!", "Awesome."];

const DELIVERY_LATE: &[&str] = &[
    "My delivery was late again and nobody told me. Really disappointing.",
    "The delivery took nearly two weeks and nobody told me, very frustrating.",
    "Delivery was {days} days late. Terrible experience.",
    "My order arrived {days} days late. The delivery tracking was useless.",
    "Late delivery again. I am really disappointed with the service.",
    "The {noun} arrived {days} days late. Unacceptable and disappointing delivery.",
    "Delivery was late and the tracking never updated. So frustrating.",
    "Second time in a row my delivery was late. Awful.",
    "I waited {days} extra days for my delivery. Poor communication, very disappointing.",
    "The delivery was late and I missed my trip. Very upset.",
    "Horrible delivery experience, the package was {days} days late.",
    "Why is every delivery late? This is ridiculous.",
    "Delivery was supposed to take 3 days and took almost two weeks. Bad, frustrating service.",
    "The late delivery ruined our camping weekend. Really unhappy.",
    "My {noun} showed up {days} days late with zero updates. Disappointing delivery.",
    "Late again! The delivery delay was unacceptable.",
    "The delivery was a mess: late, no tracking and nobody answered my emails.",
    "I am frustrated, the delivery was late for the third time.",
    "The courier lost track of my parcel and the delivery was {days} days late. Terrible.",
    "Late delivery and nobody told me anything. Worst order so far.",
    "My delivery came late and the box was damaged. Awful.",
    "Very annoyed that the delivery was late again.",
    "Delivery delays every single time. I hate waiting like this.",
    "The delivery was late and customer service ignored my emails.",
    "The delivery took forever, {days} days late. Very unhappy.",
    "Still upset about the late delivery of my {noun}.",
    "Late delivery, poor tracking, bad experience.",
    "I ordered the {product} for a trip and the delivery was late. Very disappointing.",
    "The delivery was late again, this is becoming a real problem.",
    "Awful delivery service, my order was {days} days late.",
    "The delivery was late and the estimate kept changing. Frustrating and stressful.",
    "I paid for shipping and the delivery was still late. Unacceptable.",
    "Another late delivery. Sad to see the service get this bad.",
    "The delivery was late and nobody apologized. Poor service.",
    "My delivery was {days} days late and the tracking page was wrong. Terrible.",
    "Delivery failed twice and my order arrived late. Disappointed.",
    "Waited almost two weeks for a late delivery. Worst delivery experience ever.",
    "Late, late, late. Every delivery from you is late and it is frustrating.",
];

const DELIVERY_ON_TIME: &[&str] = &[
    "Delivery was fast and everything arrived in perfect condition. Great service!",
    "Arrived on time, well packed. Very happy with the delivery.",
    "Quick delivery and the {noun} is excellent. Thanks!",
    "The delivery came a day early, awesome!",
    "Great delivery experience, tracking was clear and the {noun} arrived on time.",
    "Fast delivery, love it.",
    "My order arrived right on time. Excellent service.",
    "Great packaging and a quick delivery. Happy customer!",
    "Delivery was on time and the {product} is perfect.",
    "Impressed by how quickly the delivery arrived.",
    "Good delivery, on schedule and well packed.",
    "The delivery was quick and the courier was friendly.",
    "Everything arrived on time, great job Northwind!",
    "Delivered in two days, fantastic.",
    "Pleased with the fast delivery and the quality of the {noun}.",
    "Wonderful service, the delivery was right on time.",
    "On-time delivery and great communication. Thank you!",
    "Delivery was easy to track and arrived early. Nice!",
    "The {noun} arrived on time and in great shape.",
    "Super fast delivery, I love shopping here.",
    "Best delivery experience I have had with an outdoor store.",
    "Happy with the delivery, everything was perfect.",
    "Delivery arrived as promised. Excellent.",
    "Great service and on-time delivery as usual.",
    "Arrived just in time for our trip, thanks so much!",
    "The delivery was on time and the {product} looks amazing.",
    "Quick and friendly delivery, good packaging.",
    "Perfect delivery, everything was great.",
    "Very satisfied with the delivery speed.",
    "Glad the order came so quickly. Great experience.",
    "Delivery on time and the {noun} fits great.",
    "Brilliant service, fast delivery and lovely packaging.",
];

const PRODUCT_GOOD: &[&str] = &[
    "The {noun} is excellent quality, I love it.",
    "Great {noun}! Used it all weekend and it performed perfectly.",
    "The {product} is fantastic, well made and comfortable.",
    "Really happy with my new {noun}, great quality.",
    "Love the {product}. Worth every penny.",
    "Excellent {noun}, exactly as described.",
    "The {noun} is awesome, sturdy and light. Very pleased.",
    "Best {noun} I have owned. Great design.",
    "Impressed with the quality of the {product}.",
    "The {noun} kept me warm and comfortable the whole trip. Amazing.",
    "Beautiful {noun}, great materials. Happy with it.",
    "Solid and reliable {noun}, I would buy it again. Great value.",
    "The {product} exceeded my expectations. Wonderful.",
    "Lovely {noun}, my family loves it too.",
    "Great gear, the {noun} works perfectly.",
    "The {noun} feels premium and looks great. Excellent.",
    "Perfect {noun} for our hikes, very happy.",
    "Superb quality on the {product}, thank you!",
    "Nice {noun}, comfortable and well made.",
    "Fantastic {noun}. My favorite purchase this year.",
    "The {product} is brilliant, easy to use and great quality.",
    "Glad I picked the {product}, it is excellent.",
];

const PRODUCT_BAD: &[&str] = &[
    "The {noun} broke after two trips. Very disappointed.",
    "Poor quality {noun}, the seams started to fail on day one.",
    "The {product} leaked in the first rain. Terrible.",
    "Disappointed with the {noun}, it feels cheaply made and flimsy. Bad quality.",
    "The zipper on my {noun} is broken already. Awful.",
    "Bad {noun}, it stopped working on our first trip.",
    "The {product} arrived damaged and scratched. Unhappy.",
    "Worst {noun} I have bought, it fell apart quickly. Waste of money.",
    "The {noun} is poorly made, the stitching is a mess. Disappointing.",
    "Really unhappy with the {product}, the quality is poor.",
    "The {noun} failed on a cold night. Horrible experience.",
    "The {noun} looks nothing like the photos. Disappointing.",
    "My {noun} has a broken buckle. Frustrating.",
    "The {product} is a waste of money, bad materials.",
    "Sad to say the {noun} is low quality and broke within a week.",
    "The {noun} smells awful and the fabric ripped. Terrible.",
    "Annoyed that the {product} was defective and damaged. Poor.",
    "The {noun} is uncomfortable and badly designed. Disappointed.",
    "I hate how heavy and fragile the {noun} is. Bad purchase.",
    "The {product} failed after one use. Unacceptable quality.",
];

const SUPPORT_HELPFUL: &[&str] = &[
    "{agent} from support was really helpful and solved it quickly. Thanks!",
    "Great support, friendly and helpful.",
    "Support answered fast and fixed my problem. Excellent service.",
    "{agent} was super helpful, thank you so much!",
    "Very helpful chat, I got a great answer in minutes.",
    "The support team was kind and helpful. Happy with the outcome.",
    "Excellent customer service, {agent} sorted everything out.",
    "Thanks for the helpful advice on the {noun}, great service.",
    "Support was friendly and quick. Impressed.",
    "Wonderful help from {agent}, really appreciated.",
    "The agent was helpful and patient. Great experience.",
    "Fast, friendly and helpful support. Love it.",
    "Helpful answer about sizing, thanks {agent}!",
    "Good support, they solved my issue the same day.",
    "Amazing support team, thank you for the help!",
    "Great chat with {agent}, very helpful and kind.",
    "Support made it easy, excellent service.",
    "Really pleased with how helpful the support team was.",
    "Perfect answer from support, thanks a lot!",
    "The support team was awesome and very helpful.",
];

const SUPPORT_UNHELPFUL: &[&str] = &[
    "Support was useless and rude, nobody could tell me anything.",
    "I contacted support three times and I am still waiting for an answer. Frustrating and disappointing.",
    "The chat agent was rude and unhelpful. Terrible service.",
    "Terrible support, they ignored my emails for a week.",
    "Support kept sending useless copy-paste answers. Terrible.",
    "Waited an hour in the chat queue. Awful.",
    "Support closed my ticket and the problem is still there. Annoying and frustrating.",
    "The agent was clueless about the {noun}. Disappointing support.",
    "Very poor customer service, nobody called me back.",
    "I am frustrated with support, my refund is still missing. Disappointed.",
    "Horrible support experience, I had to repeat my problem five times.",
    "Support was slow, rude and unhelpful. Very disappointed.",
    "The support team ignored my complaint. Unacceptable.",
    "Bad support, the answers were wrong and confusing.",
    "Worst customer service I have dealt with in a long time.",
    "Support was a waste of time. Disappointed.",
    "They ignored my question about the {noun}. Poor service.",
    "Annoying support process, nobody takes responsibility. Frustrating.",
    "I am upset and angry, support hung up on me.",
    "Support could not help at all. Sad and disappointing.",
];

const CHECKOUT_EASY: &[&str] = &[
    "Checkout was quick and easy.",
    "Easy checkout, great experience.",
    "Very easy to pay, love the simple checkout.",
    "Smooth and easy checkout, thanks!",
    "The checkout was fast and painless. Great.",
    "Easy ordering process, happy with it.",
    "Great checkout experience, took two minutes.",
    "Paying was easy and the confirmation was clear. Nice.",
    "Easy checkout and clear prices. Excellent.",
    "Checkout on my phone was easy, good job.",
    "Super easy to order, great site.",
    "Quick, easy and secure checkout. Pleased.",
    "The checkout was easy and the shipping options were clear. Good.",
    "Very easy checkout, I love the saved address.",
    "Checkout was easy and fast, perfect.",
    "Really easy to complete my order. Happy.",
    "Easy peasy checkout, great experience overall.",
    "Good checkout flow, easy to follow.",
    "Ordering was easy and enjoyable.",
    "Easy checkout, excellent work.",
];

const CHECKOUT_SHIPPING: &[&str] = &[
    "The shipping costs at checkout were a nasty shock. Annoying.",
    "Annoying shipping costs, I only saw them at the last step.",
    "Shipping costs are ridiculous for a small order.",
    "I hate that the shipping costs only show up at checkout.",
    "Hidden shipping costs, very frustrating.",
    "Checkout was annoying, the shipping costs doubled my total.",
    "Shipping costs are way too high. Disappointed.",
    "The shipping fee is outrageous for such a small item.",
    "Frustrating checkout, the shipping costs ruined the deal.",
    "Annoyed by the shipping costs, almost cancelled my order.",
    "Shipping costs killed my discount. Bad checkout experience.",
    "Why are the shipping costs so high? Ridiculous.",
    "The shipping page was a shock, terrible pricing.",
    "Shipping costs feel greedy. Unhappy with checkout.",
    "Awful surprise with the shipping costs at checkout.",
    "Too much for shipping, I nearly gave up. Annoying.",
    "The checkout hid the shipping costs until the end. Poor.",
    "Shipping costs are a problem for small orders. Disappointing.",
    "Frustrated that my coupon did not cover the shipping costs.",
    "Painful checkout, the shipping costs are unacceptable.",
    "Shipping costs made the bargain pointless. Sad.",
    "Confusing checkout and annoying shipping costs.",
];

const PRICE_GOOD: &[&str] = &[
    "Great prices, I got an excellent deal.",
    "Good value for money, happy with the price.",
    "Love the sale prices, great bargain.",
    "Fair price for excellent quality.",
    "Great value on the {noun}, very pleased.",
    "Prices are good and the coupon worked perfectly. Thanks!",
    "Excellent value, better prices than other stores.",
    "Happy with the price of the {product}.",
    "Nice discount on the {noun}, great deal.",
    "Best price I found anywhere, awesome.",
    "Good prices and great quality.",
    "Glad I waited for the sale, fantastic price.",
    "Wonderful value for a {noun} this good.",
    "Fair prices and friendly service, love it.",
    "The price was great and the quality is excellent.",
    "Really good value, would buy again.",
    "Great deal on the {product}, thank you!",
    "Amazing value for money.",
    "Pleased with the price and the quality.",
    "Good value, happy customer.",
];

const PRICE_BAD: &[&str] = &[
    "Too expensive for what you get. Disappointed.",
    "Prices are ridiculous compared to other stores.",
    "Overpriced {noun}, bad value and disappointing.",
    "The {product} is not worth the price. Disappointing.",
    "Prices went up again, annoying.",
    "Bad value, the {noun} costs too much for this quality.",
    "Outrageous prices, I found it much cheaper elsewhere. Unhappy.",
    "I feel ripped off, the price was way too high. Sad.",
    "My coupon was denied and the price was terrible.",
    "Frustrating that the discount code failed at checkout.",
    "The price is a problem, poor value for money.",
    "Too pricey, I regret buying the {noun}. Disappointed.",
    "Expensive and mediocre, bad deal.",
    "Prices feel greedy, not happy.",
    "Awful prices compared to last season, disappointed.",
    "Annoyed that the sale price disappeared at checkout.",
    "The price was unfair for such a flimsy {noun}. Poor.",
    "Way too expensive, disappointing.",
    "Terrible prices, I feel cheated.",
    "The coupon did not work and the price was unacceptable.",
];

const SIZING_GOOD: &[&str] = &[
    "The size guide was great, the {noun} fits perfectly.",
    "Fits great, true to size. Happy!",
    "Perfect fit, thanks to the helpful size guide.",
    "The {noun} fits well and feels comfortable.",
    "Great fit, exactly my size.",
    "Sizing was spot on, love the {noun}.",
    "Comfortable fit and great quality.",
    "The size chart was accurate, excellent.",
    "Fits perfectly, very pleased with the {product}.",
    "Great fit out of the box, awesome.",
    "The {noun} is a perfect fit, nice job.",
    "Happy with the fit, comfortable on long hikes.",
    "True to size and comfortable. Great.",
    "Glad the sizing advice was right, fits great.",
    "The fit is excellent, thank you!",
    "Lovely fit and great materials.",
    "Perfect size, happy customer.",
    "Fits great and looks amazing.",
    "Sizing help was excellent, great fit.",
    "Wonderful fit, very comfortable.",
];

const SIZING_BAD: &[&str] = &[
    "The {noun} did not fit at all, the size guide is wrong. Frustrating.",
    "Sizing is terrible, the {noun} runs two sizes small.",
    "Wrong size chart, the {noun} is way too tight. Disappointed.",
    "The {noun} is uncomfortable and too small. Bad sizing.",
    "Annoying sizing, I had to return the {noun} twice.",
    "The size guide is useless and wrong. Frustrating.",
    "Poor fit, the {product} is too narrow. Unhappy.",
    "The {noun} is baggy and awkward, awful sizing.",
    "Sizing was a mess, very disappointed.",
    "The {noun} gave me painful blisters. Terrible fit.",
    "Bad fit, the sleeves are way too short. Sad.",
    "Disappointed, the {noun} runs small and the return was a hassle.",
    "Wrong sizing information on the {product}. Poor.",
    "The fit is horrible, I hate it.",
    "Frustrated with the sizing, the {noun} does not fit.",
    "The {noun} is too tight, bad size chart. Annoying.",
    "Awful fit on the {product}, disappointing.",
    "The size guide was wrong and the {noun} is uncomfortable.",
    "Terrible sizing, had to send it back. Unhappy.",
    "The {noun} fit is poor and uncomfortable. Disappointing.",
];

const REVIEW_POSITIVE: &[&str] = &[
    "Love this {noun}! Excellent quality and great design.",
    "Great {noun}, used it on three trips already. Highly recommend.",
    "The {product} is fantastic. Light, sturdy and comfortable.",
    "Best {noun} I have owned, excellent value.",
    "Awesome {noun}, my whole family loves it.",
    "Perfect for backpacking, great quality and easy to use.",
    "Excellent {noun}, exactly what I needed. Five stars!",
    "Really impressed with the {product}, great performance in bad weather.",
    "Beautiful and comfortable {noun}, would buy again.",
    "Wonderful {noun}, great fit and great price.",
    "Superb {product}, kept me warm and happy all night.",
    "Fantastic gear, the {noun} is a favorite now.",
    "Great quality {noun}, I recommend it to all my friends.",
    "Lovely {noun}, well made and very comfortable.",
    "Amazing {product}, worth every penny.",
    "Brilliant {noun}, easy to pack and great on the trail.",
    "Happy with this {noun}, excellent craftsmanship.",
    "The {product} is great, I love the details.",
    "Solid, reliable and comfortable {noun}. Great buy.",
    "Excellent {noun} and excellent service from Northwind.",
    "Great {noun}, perfect for weekend trips. Love it!",
    "The best {noun} for the price, awesome.",
];

const REVIEW_NEGATIVE: &[&str] = &[
    "Disappointed with this {noun}, poor quality.",
    "The {product} broke on the first trip. Terrible.",
    "Bad {noun}, it leaked and the zipper failed.",
    "Not worth the money, the {noun} is flimsy. Disappointing.",
    "The {noun} fell apart after a week. Awful.",
    "Poorly made {noun}, a disappointing waste of money.",
    "Uncomfortable and heavy {noun}. Unhappy with it.",
    "The {product} arrived damaged and support was useless.",
    "Terrible fit and poor materials. Disappointed.",
    "Waste of money, the {noun} stopped working. Bad.",
    "The {noun} is a problem, the seams are failing. Poor.",
    "Awful {noun}, nothing like the description.",
    "Frustrating {noun}, hard to set up and fragile.",
    "Sad to give a low rating, but the {product} is bad quality.",
    "The {noun} smells bad and the fabric ripped. Terrible.",
];

const REVIEW_MIXED: &[&str] = &[
    "The {noun} is okay but the zipper feels weak. A bit disappointed.",
    "Decent {noun}, but too heavy for backpacking. Not great.",
    "The {product} works, but the sizing is wrong. Meh.",
    "Average {noun}, mediocre and disappointing for the price.",
    "The {noun} is fine, but the delivery was late and the box was damaged.",
    "Looks nice, but the {noun} is uncomfortable on long hikes. Disappointing.",
    "Mixed feelings, the {product} is warm but the stitching is poor.",
    "The {noun} does the job, but it is overpriced. Not impressed.",
    "Okay {noun}, but the instructions were confusing and frustrating.",
    "Meh. The {noun} is a bit flimsy and the straps are annoying.",
    "The {noun} is fine for the price, but the straps are annoying.",
    "Some problems with the {product}, the buckle broke after a month.",
];

const NPS_PROMOTER: &[&str] = &[
    "Great store, great gear and friendly people. I recommend Northwind to everyone.",
    "Love Northwind, my favorite outdoor store.",
    "Excellent products and excellent service, always happy.",
    "Great selection and quality, I trust Northwind for all my gear.",
    "Fantastic experience every time. Highly recommend.",
    "Best outdoor store I know, great advice and great prices.",
    "Always a great experience, love the quality.",
    "Wonderful service and awesome gear.",
    "I love the products, they never let me down on the trail.",
    "Great brand, great people. Happy customer for years.",
    "Amazing quality and friendly support, five stars.",
    "Really happy with everything, thanks Northwind!",
    "Superb gear and a lovely shopping experience.",
    "Excellent store, I already recommended it to my friends.",
];

const NPS_PASSIVE: &[&str] = &[
    "Good store, prices could be better.",
    "Good gear, shipping is a bit slow.",
    "Nice products, the website could be faster.",
    "Good experience overall, nothing special.",
    "Fine, but the shipping costs are high.",
    "Decent quality, okay prices.",
    "Good selection, but the app is a bit clunky.",
    "Happy enough, the delivery took a while.",
    "Good service, I wish there were more sales.",
    "Fine store, I shop elsewhere too.",
    "Nice gear, the checkout could be simpler.",
    "Good, but the size guide could be clearer.",
];

const CHAT_QUESTION: &[&str] = &[
    "Hi, does the {product} run true to size?",
    "Hello, is the {noun} waterproof?",
    "Can I get a bulk quote for 20 units of the {product}?",
    "Do you offer invoices with VAT numbers for company orders?",
    "How long does shipping take to my address?",
    "What is the packed weight of the {product}?",
    "Is the {product} back in stock soon?",
    "Which {noun} would you suggest for a week in the mountains?",
    "Can I return the {noun} if it does not fit?",
    "Do you ship to Canada?",
    "Is there a warranty on the {product}?",
    "Hi, what temperature is the {noun} rated for?",
    "Do you have a business account with net 30 terms?",
    "Can I change the delivery address on my order?",
    "Where is my order? It should have arrived already.",
    "Is the price of the {product} going to drop in the sale?",
];

const TICKET_LATE: &[&str] = &[
    "Where is my order? The delivery is {days} days late and the tracking is stuck. Very frustrating.",
    "My delivery is late again. This is the second time. Please tell me what is going on, I am really disappointed.",
    "The delivery of my {noun} is a week late and still missing. Unacceptable and frustrating.",
    "Late delivery: my parcel is {days} days overdue and nobody replies. Terrible service.",
    "I need my {noun} for a trip this weekend and the delivery is late. I am upset and worried.",
    "The tracking says delayed for {days} days now. Awful delivery, I want a refund of the shipping.",
    "Why is my delivery late? I paid for shipping and waited almost two weeks. Frustrated.",
    "My order is late and the courier lost it. Very poor service.",
    "Delivery delay again. I am annoyed and considering cancelling.",
    "Still waiting for a late delivery and nobody replies. Disappointing and frustrating.",
    "The delivery was supposed to arrive {days} days ago. This is ridiculous.",
    "Complaint: late delivery and damaged box. Bad experience.",
];

const TICKET_PRODUCT: &[&str] = &[
    "My {noun} arrived broken. I would like a replacement. Very disappointed.",
    "The {product} leaked on the first night. Please advise, this is a bad problem.",
    "The zipper of the {noun} failed after one week. Poor quality, I want a refund.",
    "Wrong size of the {noun} was sent. Frustrating, please fix.",
    "The {product} stopped working. Terrible, I need a warranty replacement.",
    "The {noun} is damaged and smells awful. Return request.",
    "Missing parts in my {noun} order. Annoying, please send them.",
    "The {noun} ripped on the first hike. Unacceptable quality.",
];

const TICKET_BUSINESS: &[&str] = &[
    "Please send the invoice for our last order to accounts payable.",
    "We need a quote for 40 {noun}s for our team retreat.",
    "Could you set up net 30 payment terms for our company account?",
    "Please add our VAT number to the invoices.",
    "We would like to order 25 units of the {product}. Can you confirm stock?",
    "Can we get our company logo on the {noun}s?",
    "Please update the shipping address for our office.",
    "Requesting a volume discount for our yearly gear order.",
    "Can you split the delivery of our order across two sites?",
    "Please confirm the delivery date for our bulk order.",
];

const TICKET_GENERAL: &[&str] = &[
    "I would like to return the {noun}, how do I get a return label?",
    "Can I exchange the {product} for a different size?",
    "Please update my email address on my account.",
    "How do I use my store credit?",
    "Can you confirm my order number?",
    "I want to change the color of the {noun} I ordered.",
    "Please cancel the second item in my order.",
    "Do you price match other stores?",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_and_vary() {
        let mut rng = Rng::from_seed(3);
        let fill = Fill { product: "Ridgeline 2P Backpacking Tent", noun: "tent", days: 7, agent: "Maya" };
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let t = write(&mut rng, Topic::DeliveryLate, &fill);
            assert!(!t.contains('{'), "{t}");
            assert!(t.to_lowercase().contains("deliver") || t.contains("Late"), "{t}");
            seen.insert(t);
        }
        assert!(seen.len() > 40, "only {} distinct texts", seen.len());
        assert!(DELIVERY_LATE.len() >= 30 && DELIVERY_ON_TIME.len() >= 30);
    }
}
