"""The document's service categories and the rules that put an upstream service into one of them.

The rules are data, checked in this order, first match wins:

1. ``KNOWN_SERVICES``: exact upstream ``service_id`` → type, for the services everyone sells.
2. ``KEYWORD_RULES``: keywords looked up in the service's id, name and alt names. The order of the rules
   matters where a name carries two hints ("Uber Eats" is food, not travel; "Google Pay" is banking, not
   e-mail), so the narrower categories come first.
3. Anything else is ``other``.

An operator can always override the result per service (``Service.type_override`` in the admin).

Choices worth knowing: Discord is **gaming** (its users find it next to Steam and Epic; it is overridable);
Apple (Apple ID / iCloud) and Yandex are **email**, like Google and Microsoft: they are account providers
whose verification SMS guards a mailbox; crypto exchanges (Coinbase, Binance) are **banking**.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import models


class ServiceType(models.TextChoices):
    SOCIAL_MEDIA = "social_media", "Social media"
    MESSAGING = "messaging", "Messaging"
    SHOPPING = "shopping", "Shopping"
    BANKING = "banking", "Banking"
    EMAIL = "email", "Email"
    GAMING = "gaming", "Gaming"
    STREAMING = "streaming", "Streaming"
    TRAVEL = "travel", "Travel"
    FOOD = "food", "Food"
    DATING = "dating", "Dating"
    OTHER = "other", "Other"


TYPE_LABELS: dict[str, str] = {str(value): str(label) for value, label in ServiceType.choices}

KNOWN_SERVICES: dict[str, ServiceType] = {
    **dict.fromkeys(
        ["whatsapp", "telegram", "signal", "viber", "wechat", "line", "kakaotalk", "imo", "zalo", "skype"],
        ServiceType.MESSAGING,
    ),
    **dict.fromkeys(
        [
            "facebook",
            "instagram",
            "tiktok",
            "twitter",
            "snapchat",
            "linkedin",
            "vk",
            "pinterest",
            "reddit",
            "threads",
            "weibo",
        ],
        ServiceType.SOCIAL_MEDIA,
    ),
    **dict.fromkeys(
        ["amazon", "ebay", "aliexpress", "shopee", "temu", "shein", "etsy", "walmart", "lazada", "mercadolibre"],
        ServiceType.SHOPPING,
    ),
    **dict.fromkeys(
        ["paypal", "revolut", "wise", "coinbase", "binance", "venmo", "cashapp", "monzo", "n26", "skrill"],
        ServiceType.BANKING,
    ),
    **dict.fromkeys(
        [
            "google",
            "gmail",
            "yahoo",
            "outlook",
            "microsoft",
            "hotmail",
            "apple",
            "icloud",
            "yandex",
            "protonmail",
            "aol",
            "mailru",
        ],
        ServiceType.EMAIL,
    ),
    **dict.fromkeys(
        ["steam", "discord", "epicgames", "epic", "playstation", "xbox", "nintendo", "roblox", "blizzard", "riot"],
        ServiceType.GAMING,
    ),
    **dict.fromkeys(
        ["netflix", "spotify", "youtube", "twitch", "hulu", "disneyplus", "hbo", "primevideo", "deezer"],
        ServiceType.STREAMING,
    ),
    **dict.fromkeys(
        ["uber", "lyft", "airbnb", "booking", "grab", "bolt", "blablacar", "expedia", "agoda", "didi"],
        ServiceType.TRAVEL,
    ),
    **dict.fromkeys(
        ["doordash", "ubereats", "deliveroo", "7eleven", "grubhub", "glovo", "wolt", "foodpanda", "justeat"],
        ServiceType.FOOD,
    ),
    **dict.fromkeys(
        ["tinder", "bumble", "hinge", "badoo", "okcupid", "grindr", "happn", "match"],
        ServiceType.DATING,
    ),
    "other": ServiceType.OTHER,
}

KEYWORD_RULES: tuple[tuple[ServiceType, frozenset[str]], ...] = (
    (
        ServiceType.FOOD,
        frozenset(
            {
                "ubereats",
                "eats",
                "doordash",
                "deliveroo",
                "grubhub",
                "postmates",
                "justeat",
                "foodpanda",
                "glovo",
                "wolt",
                "swiggy",
                "zomato",
                "instacart",
                "7eleven",
                "seveneleven",
                "mcdonalds",
                "kfc",
                "burgerking",
                "dominos",
                "pizza",
                "starbucks",
                "food",
                "restaurant",
                "talabat",
                "rappi",
                "ifood",
                "menulog",
            }
        ),
    ),
    (
        ServiceType.BANKING,
        frozenset(
            {
                "paypal",
                "revolut",
                "wise",
                "transferwise",
                "bank",
                "banking",
                "coinbase",
                "binance",
                "crypto",
                "kraken",
                "bybit",
                "okx",
                "kucoin",
                "cashapp",
                "venmo",
                "zelle",
                "chime",
                "n26",
                "monzo",
                "skrill",
                "payoneer",
                "neteller",
                "stripe",
                "klarna",
                "afterpay",
                "pay",
                "wallet",
                "finance",
                "trading",
                "exchange",
            }
        ),
    ),
    (
        ServiceType.DATING,
        frozenset(
            {
                "tinder",
                "bumble",
                "hinge",
                "badoo",
                "okcupid",
                "grindr",
                "happn",
                "pof",
                "plentyoffish",
                "dating",
                "meetic",
                "zoosk",
                "tantan",
                "feeld",
            }
        ),
    ),
    (
        ServiceType.STREAMING,
        frozenset(
            {
                "netflix",
                "spotify",
                "youtube",
                "twitch",
                "hulu",
                "disney",
                "disneyplus",
                "hbo",
                "max",
                "primevideo",
                "deezer",
                "tidal",
                "soundcloud",
                "crunchyroll",
                "paramount",
                "peacock",
                "dazn",
                "tv",
                "music",
                "stream",
                "streaming",
            }
        ),
    ),
    (
        ServiceType.GAMING,
        frozenset(
            {
                "steam",
                "valve",
                "discord",
                "epic",
                "epicgames",
                "playstation",
                "psn",
                "xbox",
                "nintendo",
                "riot",
                "blizzard",
                "battlenet",
                "roblox",
                "ubisoft",
                "garena",
                "supercell",
                "mihoyo",
                "hoyoverse",
                "pubg",
                "fortnite",
                "minecraft",
                "faceit",
                "game",
                "games",
                "gaming",
            }
        ),
    ),
    (
        ServiceType.TRAVEL,
        frozenset(
            {
                "uber",
                "lyft",
                "airbnb",
                "booking",
                "grab",
                "bolt",
                "taxify",
                "taxi",
                "expedia",
                "trip",
                "tripadvisor",
                "agoda",
                "hotels",
                "blablacar",
                "didi",
                "careem",
                "indrive",
                "indriver",
                "gojek",
                "trivago",
                "kayak",
                "ryanair",
                "airline",
                "airlines",
                "flight",
                "flights",
                "skyscanner",
                "vrbo",
                "trainline",
                "travel",
            }
        ),
    ),
    (
        ServiceType.SHOPPING,
        frozenset(
            {
                "amazon",
                "ebay",
                "aliexpress",
                "alibaba",
                "shopee",
                "lazada",
                "etsy",
                "walmart",
                "temu",
                "shein",
                "wish",
                "mercadolibre",
                "mercado",
                "ozon",
                "wildberries",
                "avito",
                "olx",
                "craigslist",
                "taobao",
                "rakuten",
                "zalando",
                "vinted",
                "offerup",
                "poshmark",
                "bestbuy",
                "ikea",
                "flipkart",
                "tokopedia",
                "allegro",
                "shop",
                "shopping",
                "store",
                "market",
            }
        ),
    ),
    (
        ServiceType.MESSAGING,
        frozenset(
            {
                "whatsapp",
                "telegram",
                "signal",
                "viber",
                "wechat",
                "weixin",
                "line",
                "kakao",
                "kakaotalk",
                "imo",
                "zalo",
                "icq",
                "kik",
                "threema",
                "messenger",
                "skype",
                "chat",
            }
        ),
    ),
    (
        ServiceType.SOCIAL_MEDIA,
        frozenset(
            {
                "facebook",
                "fb",
                "meta",
                "instagram",
                "insta",
                "tiktok",
                "douyin",
                "twitter",
                "snapchat",
                "linkedin",
                "vk",
                "vkontakte",
                "pinterest",
                "reddit",
                "tumblr",
                "weibo",
                "threads",
                "odnoklassniki",
                "clubhouse",
                "bereal",
                "likee",
                "kwai",
                "quora",
                "social",
            }
        ),
    ),
    (
        ServiceType.EMAIL,
        frozenset(
            {
                "google",
                "gmail",
                "yahoo",
                "outlook",
                "hotmail",
                "microsoft",
                "mail",
                "email",
                "protonmail",
                "proton",
                "aol",
                "gmx",
                "yandex",
                "zoho",
                "icloud",
                "apple",
                "tutanota",
            }
        ),
    ),
)

# Keywords at least this long also match inside a longer word ("amazon" in "amazonprime"); shorter ones
# must be a whole word, or "line" would match "airline" and "pay" would match "spotify-payments".
_SUBSTRING_MIN_LENGTH = 6
_WORD = re.compile(r"[^\W_]+")


def type_label(slug: str) -> str:
    """The human label of a type slug ("social_media" → "Social media")."""
    return TYPE_LABELS[slug]


def classify(*, service_id: str, name: str = "", alt_name: str | None = "") -> ServiceType:
    """The category of an upstream service, by the rules above (never an override)."""
    known = KNOWN_SERVICES.get(service_id.lower())
    if known is not None:
        return known
    texts = [service_id, name, *(alt_name or "").split("|")]
    words = set(_words(texts))
    compacts = {"".join(_WORD.findall(text.lower())) for text in texts}
    words |= compacts
    for service_type, keywords in KEYWORD_RULES:
        if words & keywords:
            return service_type
        if any(len(k) >= _SUBSTRING_MIN_LENGTH and k in compact for k in keywords for compact in compacts):
            return service_type
    return ServiceType.OTHER


def _words(texts: Iterable[str]) -> Iterable[str]:
    for text in texts:
        yield from _WORD.findall(text.lower())
