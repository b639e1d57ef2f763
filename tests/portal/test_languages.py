"""Languages: English and Russian complete, the switcher remembered per user, dates and amounts localized,
and a right-to-left layout proved with a test locale (Hebrew, which Django marks bidi)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from portal.money import format_cents
from tests.portal.test_history_and_reports import placed

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES"


def po_entries() -> list[tuple[str, list[str]]]:
    """(msgid, translations) of every entry of the Russian catalog."""
    text = (LOCALE / "django.po").read_text()
    entries = []
    for block in text.split("\n\n")[1:]:

        def joined(key, block=block):
            match = re.search(rf'^{key} ((?:".*"\n?)+)', block + "\n", re.M)
            return "".join(re.findall(r'"(.*)"', match.group(1))) if match else None

        msgid = joined("msgid")
        forms = [joined(r"msgstr\[\d\]")] if "msgstr[" in block else [joined("msgstr")]
        if "msgstr[" in block:
            forms = re.findall(r'^msgstr\[\d\] "(.*)"', block, re.M)
        entries.append((msgid, forms))
    return entries


def test_the_russian_catalog_translates_every_message_with_the_same_placeholders():
    entries = po_entries()
    assert len(entries) > 300
    for msgid, forms in entries:
        assert forms and all(forms), f"untranslated: {msgid!r}"
        for form in forms:
            assert set(re.findall(r"%\(\w+\)s", form)) == set(re.findall(r"%\(\w+\)s", msgid)), msgid
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text().split("\n\n", 1)[1]


def test_the_compiled_catalog_is_committed_and_current():
    # CI has no gettext: the .mo ships with the code, and must hold what the .po says.
    with (LOCALE / "django.mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    singulars = [(msgid, forms[0]) for msgid, forms in po_entries() if len(forms) == 1]
    for msgid, translated in singulars[:50]:
        expected = translated.encode().decode("unicode_escape").encode("latin-1").decode()
        assert catalog.gettext(msgid.encode().decode("unicode_escape").encode("latin-1").decode()) == expected


def test_every_storefront_page_of_part_2_speaks_russian(synced, alice_client, alice):
    User.objects.filter(pk=alice.pk).update(language="ru")
    placed(alice)
    pages = {
        reverse("portal:catalog"): "Принимайте SMS с кодами подтверждения онлайн",
        reverse("portal:history"): "Фильтр номеров",
        reverse("portal:reports"): "Мои жалобы",
        reverse("portal:settings"): "Предпочтения",
        reverse("portal:help"): "Оплата, отмена и возвраты",
        reverse("portal:help-contact"): "Контакты",
        reverse("portal:account-delete"): "Удаление аккаунта",
    }
    for url, phrase in pages.items():
        html = alice_client.get(url).content.decode()
        assert '<html lang="ru"' in html and phrase in html, url


def test_amounts_and_dates_are_localized(alice_client, alice):
    with translation.override("ru"):
        assert format_cents(123456) == "1\xa0234,56\xa0$"
    with translation.override("en"):
        assert format_cents(123456) == "$1,234.56"
    User.objects.filter(pk=alice.pk).update(language="ru")
    placed(alice)
    html = alice_client.get(reverse("portal:history")).content.decode()
    assert "1,50\xa0$" in html and "10.03.2026" in html


@override_settings(LANGUAGES=[*settings.LANGUAGES, ("he", "עברית")])
def test_a_right_to_left_language_turns_the_layout(alice_client, alice):
    alice_client.post(reverse("portal:language"), {"language": "he"})
    html = alice_client.get(reverse("portal:history")).content.decode()
    assert '<html lang="he" dir="rtl"' in html
    english = User.objects.filter(pk=alice.pk).update(language="en")
    assert english
    assert 'dir="ltr"' in alice_client.get(reverse("portal:history")).content.decode()
