"""Every seeded upstream service lands in the category a customer would look for it in."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.categories import TYPE_LABELS, ServiceType, classify, type_label
from catalog.models import Service
from platfone.emulator import catalog as seeded

EXPECTED = {
    "messaging": {"whatsapp", "telegram", "signal", "viber", "wechat", "line"},
    "social_media": {"facebook", "instagram", "tiktok", "twitter", "snapchat", "linkedin", "vk"},
    "shopping": {"amazon", "ebay", "aliexpress", "shopee"},
    "banking": {"paypal", "revolut", "wise", "coinbase", "binance"},
    "email": {"google", "yahoo", "microsoft", "apple", "yandex"},
    "gaming": {"steam", "discord"},
    "streaming": {"netflix", "spotify"},
    "travel": {"uber", "lyft", "airbnb", "booking", "grab", "bolt"},
    "food": {"doordash", "ubereats", "deliveroo", "7eleven"},
    "dating": {"tinder", "bumble", "hinge"},
    "other": {"openai", "other"},
}


def test_the_expectations_cover_the_whole_seeded_catalog():
    listed = [sid for ids in EXPECTED.values() for sid in ids]
    assert sorted(listed) == sorted(s.service_id for s in seeded.SERVICES)


@pytest.mark.parametrize("service", seeded.SERVICES, ids=lambda s: s.service_id)
def test_each_seeded_service_gets_its_expected_type(service):
    expected = next(slug for slug, ids in EXPECTED.items() if service.service_id in ids)
    assert classify(service_id=service.service_id, name=service.name, alt_name=service.alt_name) == expected


@pytest.mark.django_db
def test_a_synced_catalog_stores_the_expected_types(synced):
    stored = dict(Service.objects.filter(tenant=synced).values_list("service_id", "auto_type"))
    assert stored == {sid: slug for slug, ids in EXPECTED.items() for sid in ids}


@pytest.mark.parametrize(
    ("service_id", "name", "alt_name", "expected"),
    [
        # services the seeded catalog does not have: the keyword rules, not the id table, decide
        ("kakao", "KakaoTalk", "KakaoTalk|kakao", "messaging"),
        ("pinterest2", "Pinterest", "", "social_media"),
        ("amazonprime", "Amazon Prime", "", "shopping"),
        ("googlepay", "Google Pay", "", "banking"),
        ("chase", "Chase Bank", "", "banking"),
        ("protonmail2", "Proton Mail", "", "email"),
        ("playstationnet", "PlayStation Network", "psn", "gaming"),
        ("hbomax", "HBO Max", "", "streaming"),
        ("blablacar2", "BlaBlaCar", "", "travel"),
        ("grubhub2", "Grubhub", "", "food"),
        ("justeat2", "Just Eat", "", "food"),
        ("ubereats2", "Uber Eats", "", "food"),
        ("okc", "OkCupid", "dating app", "dating"),
        ("airline", "Some Airline", "", "travel"),
        ("acme", "Acme Corp", "", "other"),
    ],
)
def test_keyword_rules_classify_unknown_services(service_id, name, alt_name, expected):
    assert classify(service_id=service_id, name=name, alt_name=alt_name) == expected


def test_a_short_keyword_only_matches_a_whole_word():
    # "line" is messaging and "pay" is banking, but "online" and "repay" contain neither as a word
    assert classify(service_id="online", name="Online") == "other"
    assert classify(service_id="repay", name="Repay") == "other"
    assert classify(service_id="line2", name="LINE Lite") == "messaging"


def test_there_are_exactly_the_documents_types_with_human_labels():
    assert list(TYPE_LABELS) == [
        "social_media", "messaging", "shopping", "banking", "email", "gaming", "streaming", "travel", "food",
        "dating", "other",
    ]
    assert type_label("social_media") == "Social media"
    assert type_label("messaging") == "Messaging"
    assert type_label("email") == "Email"
    assert ServiceType.OTHER.label == "Other"


@pytest.mark.django_db
def test_an_operator_override_wins_and_can_be_undone(synced):
    # given
    discord = Service.objects.get(tenant=synced, service_id="discord")
    # when
    services.service_set_type_override(service=discord, type_override="messaging")
    # then
    assert (discord.type, discord.type_label) == ("messaging", "Messaging")
    services.service_set_type_override(service=discord, type_override="")
    assert discord.type == "gaming"


@pytest.mark.django_db
def test_an_unknown_override_is_refused(synced):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.service_set_type_override(service=Service.objects.get(tenant=synced, service_id="discord"),
                                           type_override="crypto")
