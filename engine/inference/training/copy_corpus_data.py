"""Data tables of the grounded (version-3) copy corpus (:mod:`.copy_corpus`): audiences, call-to-action
verbs by kind of product, length hints, and the worked examples the teacher is shown.
"""

from __future__ import annotations

AUDIENCES: dict[str, list[str]] = {
    "general": [
        "busy parents", "college students", "remote workers", "first-time home buyers", "retirees",
        "young professionals", "new parents", "pet owners", "city commuters", "weekend hikers",
        "gamers", "home cooks", "coffee lovers", "eco-conscious shoppers", "teenagers", "travelers",
        "small apartment renters", "fitness fans", "music lovers", "creative freelancers", "night owls",
        "early risers", "book lovers", "gardeners", "students", "families", "seniors", "foodies",
        "runners", "beginners", "gift shoppers", "dog owners", "cat owners", "homeowners", "campers",
        "cyclists", "artists", "new drivers", "couples", "kids",
    ],
    "b2b": [
        "small business owners", "startup founders", "HR managers", "IT teams", "marketing teams",
        "restaurant owners", "shop owners", "finance teams", "agencies", "operations managers",
        "sales teams", "clinics", "schools", "nonprofits", "warehouse managers", "hotel managers",
    ],
}  # fmt: skip

# Call-to-action verbs that suit each kind of product; each teacher brief asks for one of them.
CTA_VERBS: dict[str, list[str]] = {
    "goods": ["Shop", "Get", "Order", "Buy", "Try", "Grab", "Discover", "Upgrade", "Find", "Explore"],
    "fashion": ["Shop", "Find", "Discover", "Get", "Order", "Try", "Explore", "Browse"],
    "food": ["Order", "Taste", "Try", "Grab", "Shop", "Savor", "Get", "Pre-order"],
    "services": ["Book", "Schedule", "Call", "Request", "Get", "Try", "Reserve", "Claim"],
    "apps": ["Download", "Try", "Start", "Get", "Join", "Install", "Sign up"],
    "events": ["Get", "Buy", "Book", "Join", "Reserve", "Register", "Save"],
    "b2b": ["Book", "Request", "Start", "Try", "Get", "Schedule", "See", "Compare"],
}

LENGTH_HINT = {
    "short": "Keep the body to one short sentence (under 80 characters).",
    "medium": "Keep the body to one or two sentences (under 150 characters).",
    "long": "Write a body of two or three sentences (under 230 characters).",
}
MAX_NEW_TOKENS = {"short": 48, "medium": 64, "long": 88}

AD_SYSTEM = (
    "You are an expert advertising copywriter. You answer with a Headline line, a Body line and a CTA "
    "line. The copy is specific to the product and uses its benefits."
)
# (kind, category, product, benefits, audience, tone, length, angle, CTA verb) and the ad
AD_EXAMPLE_BRIEFS: list[tuple[tuple[str, str, str, list[str], str, str, str, str, str], str]] = [
    (
        ("goods", "drinkware", "reusable coffee cup", ["leak-proof lid", "keeps coffee hot for hours"],
                "commuters", "friendly", "short", "everyday use", "Get"),
        "Headline: Your Morning Coffee, Zero Waste\nBody: A leak-proof lid and coffee that stays hot from the "
        "train to your desk.\nCTA: Get Your Cup",
    ),
    (
        ("services", "fitness", "climbing gym", ["routes for every level", "open late every night"],
                "college students", "bold", "medium", "a first visit", "Book"),
        "Headline: Climb Higher Than Your Excuses\nBody: Over 200 routes for every level, open late every "
        "night. Your first climb at our gym is on us.\nCTA: Book a Free Climb",
    ),
    (
        ("b2b", "hr software", "payroll software", ["automatic tax filing", "pays staff on time"],
                "small business owners", "professional", "medium", "saving time", "Book"),
        "Headline: Payroll Done in Minutes, Not Days\nBody: Automatic tax filing and staff paid on time, "
        "every time, so you can run your business.\nCTA: Book a Free Demo",
    ),
    (
        ("goods", "pet supplies", "dog bed", ["washable cover", "orthopedic memory foam"],
                "pet owners", "playful", "short", "comfort", "Treat"),
        "Headline: The Dog Bed Worth Leaving the Sofa For\nBody: Orthopedic memory foam under a washable "
        "cover, big enough for dramatic stretching.\nCTA: Treat Your Pup",
    ),
    (
        ("events", "music event", "summer music festival", ["forty bands on three stages"], "",
                "urgent", "long", "a limited offer", "Buy"),
        "Headline: Early Bird Festival Tickets End Friday\nBody: Three days, forty bands on three stages, one "
        "unforgettable summer. Lock in the lowest price before it is gone.\nCTA: Buy Festival Tickets",
    ),
    (
        ("food", "coffee", "cold brew coffee", ["smooth and low in acid", "brewed for 18 hours"],
                "early risers", "calm", "medium", "taste", "Taste"),
        "Headline: Cold Brew, Slowly Made\nBody: Brewed for 18 hours, smooth and low in acid. Pour it over "
        "ice and let the morning wait.\nCTA: Taste the Difference",
    ),
    (
        ("apps", "wellness app", "meditation app", ["guided breathing", "sleep stories"],
                "busy parents", "calm", "short", "a moment for yourself", "Start"),
        "Headline: Ten Quiet Minutes, Just for You\nBody: Guided breathing and sleep stories that fit "
        "between school runs.\nCTA: Start Breathing Today",
    ),
]  # fmt: skip
