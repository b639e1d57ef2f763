"""The code tables: the shipped protocol tables, the operators' mappings over them, and the admin screen."""

from __future__ import annotations

import re

import pytest

from catalog.models import COUNTRY_ID_PATTERN, SERVICE_ID_PATTERN
from compat.models import COUNTRY_CODE_PATTERN, SERVICE_CODE_PATTERN, CodeMapping
from compat.selectors import code_table, shipped_codes
from platfone.emulator.catalog import COUNTRIES, SERVICES

# Services of the emulator's seeded catalog whose SMS-Activate code we could not confirm in the protocol's
# published table, and the country the published table has no number for: left out of the shipped tables, for
# an operator to add (see the README).
UNMAPPED_SERVICES = {"booking", "ubereats"}
UNMAPPED_COUNTRIES = {"uk_v"}


# --- the shipped tables -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "code_pattern", "id_pattern"), [
    ("service", SERVICE_CODE_PATTERN, SERVICE_ID_PATTERN),
    ("country", COUNTRY_CODE_PATTERN, COUNTRY_ID_PATTERN),
])  # fmt: skip
def test_the_shipped_tables_are_well_formed_and_one_to_one(kind, code_pattern, id_pattern):
    rows = shipped_codes(kind)
    assert len(rows) > 40
    for code, row in rows.items():
        assert re.fullmatch(code_pattern, code), code
        assert re.fullmatch(id_pattern, row.our_id), row
        assert row.name
    ids = [row.our_id for row in rows.values()]
    assert len(ids) == len(set(ids)), "two codes for one of our ids"


def test_every_service_of_our_catalog_has_its_protocol_code_but_the_unconfirmed_ones():
    mapped = {row.our_id for row in shipped_codes("service").values()}
    assert {s.service_id for s in SERVICES} - mapped == UNMAPPED_SERVICES


def test_every_country_of_our_catalog_has_its_protocol_number_but_the_one_the_table_lacks():
    mapped = {row.our_id for row in shipped_codes("country").values()}
    assert {c.country_id for c in COUNTRIES} - mapped == UNMAPPED_COUNTRIES


@pytest.mark.parametrize(("code", "our_id"), [
    ("wa", "whatsapp"), ("tg", "telegram"), ("go", "google"), ("fb", "facebook"), ("ig", "instagram"),
    ("ds", "discord"), ("tw", "twitter"), ("vi", "viber"), ("ot", "other"),
])  # fmt: skip
def test_the_well_known_service_codes(code, our_id):
    assert shipped_codes("service")[code].our_id == our_id


@pytest.mark.parametrize(("code", "our_id"), [
    ("0", "ru"), ("6", "id"), ("16", "uk"), ("22", "in"),
    # The protocol's published table: 187 is the USA, 12 the USA's virtual numbers.
    ("187", "us"), ("12", "us_v"),
])  # fmt: skip
def test_the_well_known_country_numbers(code, our_id):
    assert shipped_codes("country")[code].our_id == our_id


# --- operators' mappings over them --------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_mappings_the_table_is_the_shipped_one(tenant):
    table = code_table(tenant=tenant)
    assert table.service_id("wa") == "whatsapp" and table.service_code("whatsapp") == "wa"
    assert table.country_id("187") == "us" and table.country_code("us_v") == "12"
    assert table.service_id("zz") is None and table.country_id(None) is None


@pytest.mark.django_db
def test_the_storefronts_mapping_beats_the_global_one_which_beats_the_shipped_one(tenant, other_tenant):
    CodeMapping.objects.create(kind="service", code="wa", our_id="signal")
    CodeMapping.objects.create(tenant=tenant, kind="service", code="wa", our_id="telegram")
    assert code_table(tenant=tenant).service_id("wa") == "telegram"
    assert code_table(tenant=other_tenant).service_id("wa") == "signal"


@pytest.mark.django_db
def test_an_empty_id_withdraws_a_code_and_its_reverse(tenant):
    CodeMapping.objects.create(tenant=tenant, kind="country", code="187", our_id="")
    table = code_table(tenant=tenant)
    assert table.country_id("187") is None and table.country_code("us") is None


@pytest.mark.django_db
def test_the_reverse_lookup_prefers_the_most_specific_code(tenant):
    CodeMapping.objects.create(kind="service", code="wapp", our_id="whatsapp")
    assert code_table(tenant=tenant).service_code("whatsapp") == "wapp"  # a global row beats the shipped wa
    assert code_table(tenant=tenant).service_id("wa") == "whatsapp"  # which still works


@pytest.mark.django_db
def test_the_code_table_is_one_query(tenant, django_assert_num_queries):
    with django_assert_num_queries(1):
        code_table(tenant=tenant)


# --- the admin screen -----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


@pytest.mark.django_db
class TestAdmin:
    def test_an_operator_adds_a_mapping(self, admin_client, tenant):
        response = admin_client.post(
            "/admin/compat/codemapping/add/",
            {"kind": "service", "code": "bk", "our_id": "booking", "tenant": "", "note": "Booking.com"},
        )
        assert response.status_code == 302, response.content[:2000]
        mapping = CodeMapping.objects.get(code="bk")
        assert (mapping.tenant, mapping.our_id) == (None, "booking")
        assert code_table(tenant=tenant).service_id("bk") == "booking"

    def test_an_operator_edits_a_storefronts_mapping(self, admin_client, tenant):
        mapping = CodeMapping.objects.create(tenant=tenant, kind="country", code="187", our_id="us")
        response = admin_client.post(
            f"/admin/compat/codemapping/{mapping.pk}/change/",
            {"kind": "country", "code": "187", "our_id": "us_v", "tenant": str(tenant.pk), "note": "virtual only"},
        )
        assert response.status_code == 302, response.content[:2000]
        assert code_table(tenant=tenant).country_id("187") == "us_v"

    @pytest.mark.parametrize(("form", "message"), [
        ({"kind": "service", "code": "WA!", "our_id": "whatsapp"}, b"A service code is 1-10 lower-case"),
        ({"kind": "country", "code": "0187", "our_id": "us"}, b"A country code is a number"),
        ({"kind": "country", "code": "187", "our_id": "u"}, b"A country id is 2-9 letters"),
    ])  # fmt: skip
    def test_an_invalid_mapping_is_refused_with_a_message(self, admin_client, form, message):
        response = admin_client.post("/admin/compat/codemapping/add/", {"tenant": "", "note": "", **form})
        assert response.status_code == 200 and message in response.content
        assert not CodeMapping.objects.exists()

    def test_a_second_global_mapping_of_a_code_is_refused(self, admin_client):
        CodeMapping.objects.create(kind="service", code="wa", our_id="whatsapp")
        response = admin_client.post(
            "/admin/compat/codemapping/add/", {"kind": "service", "code": "wa", "our_id": "signal", "tenant": ""}
        )
        assert response.status_code == 200 and b"already a global mapping" in response.content
        assert CodeMapping.objects.get().our_id == "whatsapp"

    def test_the_list_and_the_form_show_what_the_shipped_table_says(self, admin_client, tenant):
        mapping = CodeMapping.objects.create(tenant=tenant, kind="service", code="wa", our_id="")
        listing = admin_client.get("/admin/compat/codemapping/?kind__exact=service")
        assert listing.status_code == 200
        assert b"(not offered)" in listing.content and b"wa \xe2\x86\x92 whatsapp (Whatsapp)" in listing.content
        form = admin_client.get(f"/admin/compat/codemapping/{mapping.pk}/change/")
        assert form.status_code == 200 and b"wa \xe2\x86\x92 whatsapp" in form.content
        add_form = admin_client.get("/admin/compat/codemapping/add/")
        assert b"compat/data/services.csv" in add_form.content
