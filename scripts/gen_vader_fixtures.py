#!/usr/bin/env python3
"""Generate the VADER conformance fixture for `wayfarer-models`.

Writes crates/wayfarer-models/tests/fixtures/vader.json: a JSON array of
{"text", "neg", "neu", "pos", "compound"} objects scored by the reference
Python package vaderSentiment 3.3.2, which our Rust port
(crates/wayfarer-models/src/sentiment.rs) must reproduce.

Run it inside a throwaway virtualenv that has exactly that version:

    python3 -m venv /tmp/vader-venv
    /tmp/vader-venv/bin/pip install vaderSentiment==3.3.2
    /tmp/vader-venv/bin/python scripts/gen_vader_fixtures.py

The sentence list is fixed (no randomness), so the output is deterministic
for a given Python version. Note: Python >= 3.12 sums floats with
compensated summation inside `sum()`, which the reference uses for the
compound score; the committed fixture was generated with Python 3.11
(plain left-to-right summation, which is what the Rust port does). A
simulation of the 3.12 summation changed none of the fixture's values.
"""

import json
import sys
from importlib.metadata import version
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

REFERENCE_VERSION = "3.3.2"

OUT = (
    Path(__file__).resolve().parent.parent
    / "crates"
    / "wayfarer-models"
    / "tests"
    / "fixtures"
    / "vader.json"
)

# --- the reference package's own demo / README sentences --------------------
DEMO = [
    "VADER is smart, handsome, and funny.",
    "VADER is smart, handsome, and funny!",
    "VADER is very smart, handsome, and funny.",
    "VADER is VERY SMART, handsome, and FUNNY.",
    "VADER is VERY SMART, handsome, and FUNNY!!!",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "The book was good.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    # tricky sentences
    "Sentiment analysis has never been good.",
    "Sentiment analysis has never been this good!",
    "Most automated sentiment analysis tools are shit.",
    "With VADER, sentiment analysis is the shit!",
    "Other sentiment analysis tools can be quite bad.",
    "On the other hand, VADER is quite bad ass",
    "VADER is such a badass!",
    "Without a doubt, excellent idea.",
    "Roger Dodger is one of the most compelling variations on this theme.",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Not such a badass after all.",
    "Without a doubt, an excellent idea.",
    # the demo paragraph, whole and split into its sentences
    "It was one of the worst movies I've seen, despite good reviews. Unbelievably bad acting!! "
    "Poor direction. VERY poor production. The movie was bad. Very bad movie. VERY BAD movie!",
    "It was one of the worst movies I've seen, despite good reviews.",
    "Unbelievably bad acting!!",
    "Poor direction.",
    "VERY poor production.",
    "The movie was bad.",
    "Very bad movie.",
    "VERY BAD movie!",
    # image / video tags
    "balloons", "cake", "candles", "happy birthday", "friends", "laughing", "smiling", "party",
    "riot", "fire", "fight", "blood", "mob", "war", "police", "tear gas",
    # the (English) non-English demo sentence
    "I'm surprised to see just how amazingly helpful VADER is!",
    # README lexicon examples
    "The service here is extremely good",
    "The service here is good",
    "The service here is marginally good",
]

# --- rule-by-rule cases -----------------------------------------------------
NEGATION = [
    "The product is not good.",
    "The product is not very good.",
    "The product is not at all good.",
    "It isn't good.",
    "It isnt good.",
    "It wasn't bad at all.",
    "I didn't like it.",
    "I don't hate it.",
    "I never liked this shop.",
    "Never again.",
    "I have never been so happy with an order.",
    "I have never been this happy.",
    "It was never that good.",
    "never so bad",
    "Nothing good about it.",
    "Nobody was helpful.",
    "None of the staff were friendly.",
    "Without a doubt the best shop online.",
    "without doubt good",
    "It works without problems.",
    "Despite the delay, great service.",
    "I rarely complain but this was awful.",
    "Seldom have I been so disappointed.",
    "The courier couldn't care less.",
    "Nope, not happy.",
    "Uh-uh, that is not okay.",
    "I ain't happy.",
    "Neither helpful nor friendly.",
    "no problem",
    "No problems at all.",
    "no",
    "No.",
    "No!",
    "No, the refund never arrived.",
    "There was no help or support.",
    "no love nor kindness",
    "no sugar or fat",
    "NO good",
    "no no no",
    "no no good",
    "no, no, no, NOT GOOD",
    "It is no good at all.",
    "I can't believe it's not butter good.",
    "not not good",
]

BUT = [
    "The food was great but the service was terrible.",
    "The service was terrible but the food was great.",
    "Good price, but slow delivery.",
    "I wanted to love it, but it broke after a week.",
    "The staff were helpful but it was okay",
    "nice and helpful but nice",
    "great but great",
    "good good but good",
    "bad but but good",
    "But it was good.",
    "It was good but.",
    "BUT it was bad",
    "The box was damaged, but the item inside was fine, but the refund took ages.",
    "Helpful agent but the refund was rejected and I am angry.",
]

CAPS = [
    "THIS IS AMAZING",
    "this is AMAZING",
    "This is AMAZING!!!",
    "The delivery was VERY late and the box was DAMAGED",
    "I LOVE it",
    "I love it",
    "NOT good",
    "Not GOOD",
    "EXTREMELY bad service",
    "extremely BAD service",
    "The support was REALLY helpful",
    "GOOD",
    "good",
    "A",
    "I am OK",
    "WORST ORDER EVER, never again",
    "ÉNORME problem with my order",
    "The quality is GRËAT",
    "ǅungla is GOOD",
    "Οι ΚΑΛΟΙ are good",
]

PUNCTUATION = [
    "Great!",
    "Great!!",
    "Great!!!",
    "Great!!!!",
    "Great!!!!!!!!",
    "Terrible!",
    "Terrible!!!!!",
    "Great?",
    "Great??",
    "Great???",
    "Great????",
    "Terrible???",
    "Where is my refund?!?!",
    "Is this good?",
    "Why is shipping so expensive??",
    "Seriously???? Worst support ever!!!",
    "!!!",
    "???",
    "?!?!",
    "...",
    ".",
    ",",
    "- - -",
    "!?",
    "...good...",
    "good.",
    "(good)",
    "'good'",
    "\"great\"",
    "good,bad",
    "g!",
    "ok!",
    "OK?!",
]

BOOSTERS = [
    "extremely good",
    "extremely bad",
    "very very very good",
    "really extremely very good",
    "so good",
    "so bad",
    "kind of good",
    "kind of bad",
    "sort of helpful",
    "sort of awful",
    "kinda bad",
    "sorta nice",
    "kind-of nice",
    "The item was only sort of okay",
    "It was just enough good",
    "It arrived just enough early, good.",
    "barely good",
    "barely acceptable packaging",
    "hardly helpful",
    "slightly disappointed",
    "somewhat satisfied",
    "The courier was incredibly rude",
    "totally worth it",
    "utterly useless",
    "absolutely fantastic service",
    "The refund was processed fairly quickly and the agent was decidedly friendly.",
    "She is kind",
    "That was kind of you",
    "A kind of magic",
    "kind",
    "kind of",
    "more helpful",
    "most helpful",
    "less helpful",
    "a little disappointed",
    "FRIGGIN awesome",
    "friggin AWESOME",
    "VERY good service from the team",
]

IDIOMS = [
    "This product is the bomb",
    "the bomb",
    "That new blender is the bomb!",
    "That movie was the shit",
    "yeah right, great service",
    "Oh yeah right that was fast",
    "The customer service is bad ass",
    "total bad ass",
    "This is a kiss of death for the brand",
    "the recall was the kiss of death",
    "The food was to die for",
    "The cake here is to die for!",
    "We waited at the bus stop for ages",
    "my beating heart",
    "Their new courier does not cut the mustard",
    "Living hand to mouth after that bill",
    "The company is finally in the black",
    "Their store is in the red",
    "I am under the weather today",
    "Break a leg!",
    "They have the upper hand",
    "blowing smoke about the delivery date",
    "a back handed compliment",
    "The agent was on the ball",
    "cooking with gas now",
]

LEAST = [
    "least helpful",
    "the least helpful agent I have spoken to",
    "At least it arrived.",
    "at least good",
    "very least good",
    "This is the least bad option",
    "least",
]

EMOJI = [
    ":)",
    ":(",
    ":-)",
    ":D",
    ":P",
    "<3",
    ":'(",
    ";)",
    "xD",
    ":/",
    "Thanks :)",
    "Delivery late again :(",
    "😀",
    "💔",
    "😡",
    "👍",
    "👎",
    "🙂🙂🙂",
    "I love it 😍😍",
    "Delivery was late 😡😡 never again",
    "good😀",
    "😀good",
    "❤️",
    "❤",
    "Thank you ❤️",
    "🔛 great",
    "©",
    "Great service 👍 would buy again!",
    "Item arrived broken 💔",
    "🤬 worst support",
    "🎉🎉 order arrived early",
    "👍🏽 good",
]

EDGE = [
    "",
    " ",
    "   \t\n  ",
    "12345",
    "0",
    "3.5 out of 5",
    "10/10 would buy again",
    "100% satisfied",
    "$5.99 shipping is too much",
    "Order #12345 arrived",
    "1 2 3",
    "Great\tservice\nthanks",
    "good\u00a0product",
    "great\u3000service",
    "bad\x1cservice",
    "nice\u200bwork",
    "good\u2003bad",
    "I can't believe it's not good",
    "didn't like it",
    "wasn't bad",
    "won't recommend",
    "It isn't great",
    "doesn't work",
    "it's fine",
    "I'm happy",
    "you're great",
    "they've been helpful",
    "we'd love it",
    "I'll be back",
    "Y'all rock",
    "aaa",
    "a b",
    ":) :(",
    "lol",
    "LOL",
    "lol!!",
    "meh",
    "ugh, whatever",
    "wtf",
    "WTF is this",
    "ok",
    "OK",
    "okay",
    "fine",
]

# exact binary ties at the 3rd decimal (13/16, 1/16, 7/16, 9/16): Python's
# round() goes to even on them, so naive half-away-from-zero rounding fails
ROUNDING_TIES = [
    "glad the order is in the box and on the way to me now",
    "glad glad glad glad glad the",
    "glad glad glad the the the the the the the",
    "the glad the the the glad the the the the the the",
]

# --- realistic customer comments (reviews, surveys, support chats) ----------
CUSTOMER = [
    "Delivery was late again, third time this month.",
    "My parcel arrived two days late and nobody told me anything.",
    "The support agent was really helpful and sorted my refund in minutes.",
    "Checkout keeps throwing an error when I enter my card details.",
    "Shipping costs are ridiculous for such a small item.",
    "Great quality, fits perfectly, will definitely order again!",
    "Still waiting for my refund after three weeks. Very disappointed.",
    "Fast delivery and the packaging was lovely.",
    "The website is confusing and I couldn't find the returns page.",
    "Amazing customer service, thank you so much!",
    "Item arrived damaged and the box was soaked.",
    "I was charged twice for the same order, please fix this.",
    "Love the new collection, the colours are gorgeous.",
    "The app crashed during payment and now I don't know if my order went through.",
    "Good value for money.",
    "Terrible experience, never ordering from here again.",
    "The chat bot was useless, I had to wait 40 minutes for a human.",
    "Sizes run small, had to return it, but the exchange was easy.",
    "Everything was perfect, from ordering to delivery.",
    "Why is there no tracking number on my order?",
    "The courier left my parcel in the rain.",
    "Excellent product, works exactly as described.",
    "Not worth the price.",
    "Customer service hung up on me. Rude and unprofessional.",
    "Quick response from support, problem solved.",
    "The discount code didn't work at checkout.",
    "I'm really happy with my purchase!",
    "The product broke after two uses. Cheap plastic.",
    "Easy to order, easy to return, no complaints.",
    "No complaints at all, great shop.",
    "The refund was processed quickly, thanks!",
    "Delivery fee is too high compared to other shops.",
    "The jacket is warm and comfortable, highly recommend.",
    "Wrong item sent, and the return label costs me money?!",
    "The staff in the store were friendly and helpful.",
    "Horrible. Just horrible. Avoid.",
    "I love this brand but this order was a mess.",
    "The tracking page says delivered but I never got it.",
    "Great service as always.",
    "Payment failed three times and then I was charged anyway.",
    "It's okay, nothing special.",
    "Meh. The product is fine but delivery was slow.",
    "Five stars! Would buy again.",
    "One star. Worst customer support I have ever dealt with.",
    "The size guide was accurate, thank you.",
    "I had a problem with my order but the team fixed it quickly.",
    "Please add more payment options, PayPal would be nice.",
    "The order confirmation email never arrived.",
    "Super fast shipping, arrived the next day!",
    "Very poor quality, the seams came apart after one wash.",
    "The agent was polite but could not help me.",
    "Refund denied for no reason. Unacceptable.",
    "Lovely gift wrapping, my mum was delighted.",
    "Website is slow and keeps logging me out.",
    "Fantastic! Exactly what I wanted.",
    "The shoes are beautiful but hurt my feet.",
    "I waited on hold for an hour. Ridiculous.",
    "Thanks for the quick help with my address change.",
    "The promo was misleading, the price went up at checkout.",
    "Good product, bad packaging.",
    "Absolutely love it, worth every penny.",
    "It stopped working after a week and support ignored my emails.",
    "Not bad for the price.",
    "Decent quality, delivery on time.",
    "The return process was a nightmare.",
    "I'm satisfied with the service.",
    "Very helpful staff, they explained everything clearly.",
    "The coat is not as pictured, disappointed.",
    "Can't fault them, brilliant service.",
    "Order cancelled without explanation. Angry customer here.",
    "The free shipping threshold is fair.",
    "Checkout was smooth and easy.",
    "Error 500 when trying to pay, tried three browsers.",
    "Great quality and great price, what more could you want.",
    "The delivery driver was very rude.",
    "I would recommend this shop to my friends.",
    "I would not recommend this shop to anyone.",
    "Why do I have to pay for returns? Other shops don't charge.",
    "The colour faded after the first wash, such a shame.",
    "Brilliant customer service from Sarah, thank you!",
    "Package lost in transit, support was useless.",
    "Everything arrived safe and sound, well packed.",
    "The product is good but expensive.",
    "Expensive but worth it.",
    "I love it!!!",
    "Hate it.",
    "It's fine I guess.",
    "Really impressed with how fast the refund came through.",
    "Your checkout page is broken on mobile.",
    "I am extremely frustrated with this company.",
    "Thank you for resolving my issue so quickly, you are the best.",
    "Not happy. Item missing from my order.",
    "The survey is too long.",
    "Overall a pleasant experience.",
    "Awful experience, the item was fake.",
    "The customer service team went above and beyond.",
    "Shipping took forever and the box was crushed.",
    "Perfect fit and super comfy, love it!",
    "I'm not sure yet, haven't tried it.",
    "Delivery was on time. Product as expected.",
    "So disappointed, this was supposed to be a birthday present.",
    "Wonderful shop, friendly staff and great prices.",
    "The item was out of stock after I paid, and the refund took 2 weeks.",
    "hi, my order hasn't arrived yet, can you help?",
    "ok thanks, that solved it",
    "this is the worst service ever!!! I want my money back",
    "Thanks a lot, you've been very helpful :)",
    "cancel my subscription please",
    "why was i charged twice??",
    "The agent was kind of helpful, but the problem is not solved.",
    "Honestly the best online shopping experience I've had.",
    "Return label didn't print, had to call support, they were great though.",
    "DELIVERY WAS LATE AND NOBODY ANSWERED THE PHONE",
    "The delivery was LATE and NOBODY answered the phone",
    "Great prices but the website is really slow.",
    "The quality is not great, but not terrible either.",
]

LONG = [
    # a long, mixed review
    "I ordered the blue winter coat three weeks ago and it has been quite the journey. "
    "The website was easy to use and checkout was smooth, which I appreciated. "
    "However, the delivery was delayed twice without any notification, and when the parcel "
    "finally arrived the box was damaged. The coat itself is beautiful, warm and well made, "
    "and honestly the quality is excellent for the price. I contacted support about the "
    "damaged box and the agent was friendly and helpful, offering a small discount. "
    "Overall I am happy with the coat but unhappy with the delivery service. "
    "Would I order again? Probably, but I hope shipping improves!",
    # the same positive word many times
    " ".join(["good"] * 200),
    # a very long complaint built from repeated sentences
    " ".join(
        [
            "The delivery was late and the support team did not help.",
            "I am disappointed and angry about the refund.",
            "The product itself is great though.",
        ]
        * 60
    ),
    # a long neutral text
    " ".join(["the order number is 12345 and the parcel is in the warehouse"] * 40),
    # long text with emojis and punctuation flood
    " ".join(["love it 😍 great service!!! but shipping costs are high :("] * 30),
]

SENTENCES = (
    DEMO + NEGATION + BUT + CAPS + PUNCTUATION + BOOSTERS + IDIOMS + LEAST + EMOJI
    + EDGE + ROUNDING_TIES + CUSTOMER + LONG
)


def main() -> int:
    installed = version("vaderSentiment")
    if installed != REFERENCE_VERSION:
        print(
            f"expected vaderSentiment=={REFERENCE_VERSION}, found {installed}",
            file=sys.stderr,
        )
        return 1
    seen = set()
    dupes = [s for s in SENTENCES if s in seen or seen.add(s)]
    if dupes:
        print(f"duplicate fixture sentences: {dupes!r}", file=sys.stderr)
        return 1

    analyzer = SentimentIntensityAnalyzer()
    rows = []
    for text in SENTENCES:
        vs = analyzer.polarity_scores(text)
        rows.append(
            {
                "text": text,
                "neg": vs["neg"],
                "neu": vs["neu"],
                "pos": vs["pos"],
                "compound": vs["compound"],
            }
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    OUT.write_text("[\n" + body + "\n]\n", encoding="utf-8")
    print(f"wrote {len(rows)} cases to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
