"""The emulator's seeded catalog: services, countries and deterministic prices.

Prices and quality come from a SHA-256 of the (service, country) pair, so every run, process and test sees
the same numbers. Stock is plentiful everywhere except the `OUT_OF_STOCK` pairs, which order as
NoNumbersAvailableException, so tests can rely on both outcomes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSeed:
    service_id: str
    name: str
    alt_name: str
    base_price: int
    has_description: bool = False
    has_warning: bool = False
    retriable: bool = True
    popular: bool = False

    def to_json(self) -> dict:
        return {
            "service_id": self.service_id,
            "name": self.name,
            "alt_name": self.alt_name,
            "has_description": self.has_description,
            "has_warning": self.has_warning,
        }


@dataclass(frozen=True)
class CountrySeed:
    country_id: str
    name: str
    alt_name: str
    codes: tuple[str, ...]
    national_digits: int
    price_factor: float

    @property
    def virtual(self) -> bool:
        return self.country_id.endswith("_v")

    def to_json(self) -> dict:
        return {"country_id": self.country_id, "name": self.name, "alt_name": self.alt_name, "codes": list(self.codes)}


SERVICES: tuple[ServiceSeed, ...] = (
    ServiceSeed("whatsapp", "WhatsApp", "WhatsApp|wa|ватсап", 90, True, False, True, True),
    ServiceSeed("telegram", "Telegram", "Telegram|tg|телеграм", 80, True, True, True, True),
    ServiceSeed("signal", "Signal", "Signal", 45),
    ServiceSeed("viber", "Viber", "Viber|вайбер", 30, popular=True),
    ServiceSeed("wechat", "WeChat", "WeChat|weixin|微信", 120, True, True),
    ServiceSeed("line", "LINE", "LINE|line messenger", 40),
    ServiceSeed("google", "Google", "Google|gmail|youtube|gmail.com", 60, True, False, True, True),
    ServiceSeed("yahoo", "Yahoo", "Yahoo|yahoo mail", 20),
    ServiceSeed("microsoft", "Microsoft", "Microsoft|outlook|hotmail|live|skype", 25, popular=True),
    ServiceSeed("facebook", "Facebook", "Facebook|fb|meta", 35, popular=True),
    ServiceSeed("instagram", "Instagram", "Instagram|ig|insta", 35, True, False, True, True),
    ServiceSeed("tiktok", "TikTok", "TikTok|douyin", 30, popular=True),
    ServiceSeed("twitter", "X (Twitter)", "Twitter|x.com|x", 30, popular=True),
    ServiceSeed("snapchat", "Snapchat", "Snapchat|snap", 25),
    ServiceSeed("linkedin", "LinkedIn", "LinkedIn", 40),
    ServiceSeed("discord", "Discord", "Discord", 30, popular=True),
    ServiceSeed("steam", "Steam", "Steam|valve", 20),
    ServiceSeed("amazon", "Amazon", "Amazon|aws|prime", 30, popular=True),
    ServiceSeed("ebay", "eBay", "eBay", 20),
    ServiceSeed("aliexpress", "AliExpress", "AliExpress|alibaba", 15),
    ServiceSeed("uber", "Uber", "Uber", 35, popular=True),
    ServiceSeed("lyft", "Lyft", "Lyft", 30),
    ServiceSeed("airbnb", "Airbnb", "Airbnb", 35),
    ServiceSeed("booking", "Booking.com", "Booking|booking.com", 20),
    ServiceSeed("netflix", "Netflix", "Netflix", 20, retriable=False),
    ServiceSeed("spotify", "Spotify", "Spotify", 15),
    ServiceSeed("paypal", "PayPal", "PayPal", 70, True, True, popular=True),
    ServiceSeed("revolut", "Revolut", "Revolut", 80, True, True),
    ServiceSeed("wise", "Wise", "Wise|transferwise", 70, True, True),
    ServiceSeed("tinder", "Tinder", "Tinder", 50, popular=True),
    ServiceSeed("bumble", "Bumble", "Bumble", 45),
    ServiceSeed("hinge", "Hinge", "Hinge", 45),
    ServiceSeed("doordash", "DoorDash", "DoorDash", 30),
    ServiceSeed("ubereats", "Uber Eats", "Uber Eats|ubereats", 30),
    ServiceSeed("deliveroo", "Deliveroo", "Deliveroo", 25),
    ServiceSeed("7eleven", "7-Eleven", "7-Eleven", 20, has_description=True),
    ServiceSeed("openai", "OpenAI", "OpenAI|chatgpt", 60, True, False, popular=True),
    ServiceSeed("apple", "Apple", "Apple|icloud|apple id", 50),
    ServiceSeed("coinbase", "Coinbase", "Coinbase", 90, True, True),
    ServiceSeed("binance", "Binance", "Binance", 90, True, True),
    ServiceSeed("shopee", "Shopee", "Shopee", 15),
    ServiceSeed("grab", "Grab", "Grab", 20),
    ServiceSeed("bolt", "Bolt", "Bolt|taxify", 20),
    ServiceSeed("yandex", "Yandex", "Yandex|яндекс", 15),
    ServiceSeed("vk", "VK", "VK|vkontakte|вконтакте", 15),
    ServiceSeed("other", "Other", "Other|any other service", 40, has_warning=True),
)

COUNTRIES: tuple[CountrySeed, ...] = (
    CountrySeed("us", "United States", "United States|usa|america|сша|us", ("1",), 10, 2.0),
    CountrySeed("us_v", "United States (Virtual)", "United States virtual|usa virtual", ("1",), 10, 0.8),
    CountrySeed("uk", "United Kingdom", "United Kingdom|great britain|england|gb|uk", ("44",), 10, 1.6),
    CountrySeed("uk_v", "United Kingdom (Virtual)", "United Kingdom virtual|gb virtual", ("44",), 10, 0.7),
    CountrySeed("ca", "Canada", "Canada|канада|ca", ("1",), 10, 1.8),
    CountrySeed("de", "Germany", "Germany|deutschland|германия|de", ("49",), 11, 1.5),
    CountrySeed("fr", "France", "France|frankrijk|frança|франция|fr", ("33",), 9, 1.4),
    CountrySeed("nl", "Netherlands", "Netherlands|holland|nederland|nl", ("31",), 9, 1.4),
    CountrySeed("es", "Spain", "Spain|españa|испания|es", ("34",), 9, 1.2),
    CountrySeed("it", "Italy", "Italy|italia|италия|it", ("39",), 10, 1.2),
    CountrySeed("pt", "Portugal", "Portugal|pt", ("351",), 9, 1.1),
    CountrySeed("pl", "Poland", "Poland|polska|польша|pl", ("48",), 9, 0.9),
    CountrySeed("se", "Sweden", "Sweden|sverige|se", ("46",), 9, 1.3),
    CountrySeed("fi", "Finland", "Finland|suomi|fi", ("358",), 9, 1.3),
    CountrySeed("ee", "Estonia", "Estonia|eesti|ee", ("372",), 8, 0.9),
    CountrySeed("lt", "Lithuania", "Lithuania|lietuva|lt", ("370",), 8, 0.8),
    CountrySeed("lv", "Latvia", "Latvia|latvija|lv", ("371",), 8, 0.8),
    CountrySeed("ie", "Ireland", "Ireland|éire|ie", ("353",), 9, 1.3),
    CountrySeed("at", "Austria", "Austria|österreich|at", ("43",), 10, 1.3),
    CountrySeed("ch", "Switzerland", "Switzerland|schweiz|suisse|ch", ("41",), 9, 1.7),
    CountrySeed("be", "Belgium", "Belgium|belgië|belgique|be", ("32",), 9, 1.2),
    CountrySeed("cz", "Czechia", "Czech Republic|česko|cz", ("420",), 9, 0.9),
    CountrySeed("ro", "Romania", "Romania|românia|ro", ("40",), 9, 0.7),
    CountrySeed("ua", "Ukraine", "Ukraine|україна|украина|ua", ("380",), 9, 0.5),
    CountrySeed("kz", "Kazakhstan", "Kazakhstan|казахстан|kz", ("7",), 10, 0.5),
    CountrySeed("tr", "Turkey", "Turkey|türkiye|турция|tr", ("90",), 10, 0.7),
    CountrySeed("il", "Israel", "Israel|ישראל|il", ("972",), 9, 1.2),
    CountrySeed("in", "India", "India|bharat|индия|in", ("91",), 10, 0.4),
    CountrySeed("id", "Indonesia", "Indonesia|индонезия|id", ("62",), 10, 0.3),
    CountrySeed("ph", "Philippines", "Philippines|pilipinas|ph", ("63",), 10, 0.4),
    CountrySeed("vn", "Vietnam", "Vietnam|việt nam|vn", ("84",), 9, 0.4),
    CountrySeed("th", "Thailand", "Thailand|ประเทศไทย|th", ("66",), 9, 0.5),
    CountrySeed("my", "Malaysia", "Malaysia|my", ("60",), 9, 0.5),
    CountrySeed("au", "Australia", "Australia|au", ("61",), 9, 1.8),
    CountrySeed("br", "Brazil", "Brazil|brasil|бразилия|br", ("55",), 11, 0.6),
    CountrySeed("mx", "Mexico", "Mexico|méxico|mx", ("52",), 10, 0.6),
    CountrySeed("co", "Colombia", "Colombia|co", ("57",), 10, 0.5),
    CountrySeed("ar", "Argentina", "Argentina|ar", ("54",), 10, 0.5),
    CountrySeed("za", "South Africa", "South Africa|rsa|za", ("27",), 9, 0.6),
    CountrySeed("ng", "Nigeria", "Nigeria|ng", ("234",), 10, 0.4),
    CountrySeed("ke", "Kenya", "Kenya|ke", ("254",), 9, 0.4),
    CountrySeed("eg", "Egypt", "Egypt|مصر|eg", ("20",), 10, 0.4),
    CountrySeed("jm", "Jamaica", "Jamaica|jm", ("1658", "1876"), 7, 0.9),
)

# Pairs with no stock: ordering them answers NoNumbersAvailableException.
OUT_OF_STOCK: frozenset[tuple[str, str]] = frozenset(
    {
        ("whatsapp", "us_v"),
        ("telegram", "us_v"),
        ("paypal", "us_v"),
        ("wechat", "jm"),
        ("revolut", "ng"),
        ("coinbase", "ke"),
    }
)

SERVICES_BY_ID = {s.service_id: s for s in SERVICES}
COUNTRIES_BY_ID = {c.country_id: c for c in COUNTRIES}


@dataclass(frozen=True)
class PriceInfo:
    min: int
    max: int
    suggested: int
    quality_avg: float
    count: int

    def to_json(self) -> dict:
        return {
            "price": {"min": self.min, "max": self.max, "suggested": self.suggested},
            "quality": {"avg": self.quality_avg},
            "count": self.count,
        }

    def offer(self, quality_factor: float | None) -> int:
        """The price charged for an order: suggested at the default quality factor (50), towards min or max
        as the caller prefers price (0) or quality (100)."""
        if quality_factor is None or quality_factor == 50:
            return self.suggested
        if quality_factor < 50:
            return round(self.suggested - (self.suggested - self.min) * (50 - quality_factor) / 50)
        return round(self.suggested + (self.max - self.suggested) * (quality_factor - 50) / 50)


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def seeded_price(service: ServiceSeed, country: CountrySeed) -> PriceInfo:
    """Deterministic price for one pair; see the module docstring."""
    h = _digest(service.service_id, country.country_id)
    suggested = max(5, round(service.base_price * country.price_factor * (0.85 + (h % 31) / 100)))
    minimum = max(1, round(suggested * 0.7))
    maximum = max(suggested + 1, round(suggested * 1.6))
    quality = round(0.2 + ((h >> 8) % 76) / 100, 2)
    count = 0 if (service.service_id, country.country_id) in OUT_OF_STOCK else 20 + (h >> 16) % 4980
    return PriceInfo(min=minimum, max=maximum, suggested=suggested, quality_avg=quality, count=count)


def etag_of(items: list[dict]) -> str:
    """Stable 40-hex ETag of a catalog list, like the upstream's."""
    return hashlib.sha1(
        json.dumps(items, sort_keys=True, ensure_ascii=False).encode(), usedforsecurity=False
    ).hexdigest()
