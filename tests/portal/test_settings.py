"""Account settings: preferences (language, theme, code e-mails) kept on the account; the e-mail address
changed only once the new one is proved; the password; deleting the account (refused while money or numbers
are left; the ledger keeps its entries); the header's language switcher and theme toggle."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import ApiKey, User
from tests.factories import TEST_PASSWORD, issue_api_key
from tests.portal.conftest import ACME, host_client
from tests.portal.test_history_and_reports import placed
from wallet.models import Account, JournalEntry

pytestmark = pytest.mark.django_db


def test_preferences_are_saved_on_the_account(alice_client, alice):
    response = alice_client.post(
        reverse("portal:preferences"), {"language": "ru", "theme": "dark", "notify_code_by_email": "on"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.language, alice.theme, alice.notify_code_by_email) == ("ru", "dark", True)
    page = alice_client.get(reverse("portal:settings")).content.decode()
    assert '<html lang="ru"' in page and 'data-theme="dark"' in page


def test_unknown_preferences_are_refused_with_a_message(alice_client, alice):
    response = alice_client.post(reverse("portal:preferences"), {"language": "xx", "theme": "pink"})
    assert response.status_code == 400 and 'class="field-error"' in response.content.decode()
    alice.refresh_from_db()
    assert (alice.language, alice.theme) == ("", "")


def test_the_language_switcher_works_before_login_by_cookie_and_after_on_the_account(alice_client, alice):
    anonymous = host_client(ACME)
    response = anonymous.post(reverse("portal:language"), {"language": "ru", "next": "/countries/"})
    assert response.status_code == 302 and response["Location"] == "/countries/"
    assert '<html lang="ru"' in anonymous.get(reverse("portal:catalog")).content.decode()
    # signed in: kept on the account, so another browser speaks it too
    alice_client.post(reverse("portal:language"), {"language": "ru"})
    alice.refresh_from_db()
    assert alice.language == "ru"
    other_browser = host_client(ACME)
    other_browser.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    assert '<html lang="ru"' in other_browser.get(reverse("portal:catalog")).content.decode()


def test_the_switcher_never_redirects_to_another_site(tenant, acme_client):
    response = acme_client.post(reverse("portal:language"), {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_the_theme_toggle_is_remembered_per_user(alice_client, alice, acme_client):
    alice_client.post(reverse("portal:theme"), {"theme": "dark"})
    alice.refresh_from_db()
    assert alice.theme == "dark"
    assert 'data-theme="dark"' in alice_client.get(reverse("portal:catalog")).content.decode()
    # with no choice, the page follows the system (no data-theme) and the toggle is there
    page = acme_client.get(reverse("portal:catalog")).content.decode()
    assert "data-theme=" not in page.split("<head>")[0] and "data-follows-system" in page


def test_changing_the_email_needs_the_password_and_the_link_sent_to_the_new_address(alice_client, alice):
    wrong = alice_client.post(reverse("portal:email-change"), {"email": "new@example.com", "password": "nope"})
    assert wrong.status_code == 400 and not mail.outbox
    # when
    alice_client.post(reverse("portal:email-change"), {"email": "New@Example.com", "password": TEST_PASSWORD})
    # then: nothing changes until the new address opens the link
    alice.refresh_from_db()
    old = alice.email
    assert old != "new@example.com"
    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    link = re.search(r"https?://\S+", message.body).group(0)
    response = alice_client.get(link)
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.email == "new@example.com" and alice.email_verified_at is not None
    # a used link does not work twice
    assert alice_client.get(link).status_code == 400


def test_an_email_of_another_user_of_the_store_cannot_be_taken(alice_client, alice, bob):
    response = alice_client.post(reverse("portal:email-change"), {"email": bob.email, "password": TEST_PASSWORD})
    assert response.status_code == 400 and "already registered" in response.content.decode()
    assert not mail.outbox


def test_an_email_change_link_of_another_store_does_nothing(alice_client, alice, charlie):
    alice_client.post(reverse("portal:email-change"), {"email": "x@example.com", "password": TEST_PASSWORD})
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    path = link.split(ACME, 1)[1] if ACME in link else link
    assert host_client("globex.test").get(path).status_code == 400
    alice.refresh_from_db()
    assert alice.email != "x@example.com"


def test_the_password_changes_with_the_old_one_and_the_session_stays(alice_client, alice):
    bad = alice_client.post(
        reverse("portal:password-change"),
        {"old_password": "wrong", "new_password1": "N3w-long-passw0rd", "new_password2": "N3w-long-passw0rd"},
    )
    assert bad.status_code == 400
    ok = alice_client.post(
        reverse("portal:password-change"),
        {"old_password": TEST_PASSWORD, "new_password1": "N3w-long-passw0rd", "new_password2": "N3w-long-passw0rd"},
    )
    assert ok.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("N3w-long-passw0rd")
    assert alice_client.get(reverse("portal:settings")).status_code == 200


def delete(client, password=TEST_PASSWORD):
    return client.post(reverse("portal:account-delete"), {"password": password, "confirm": "on"})


def test_deleting_is_refused_while_money_is_in_the_wallet(alice_client, alice, fund):
    fund(alice, 500)
    response = delete(alice_client)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-error-code="account_has_funds"' in html and "$5.00" in html
    alice.refresh_from_db()
    assert alice.is_active and alice.closed_at is None


def test_deleting_is_refused_while_a_number_is_active(alice_client, alice):
    placed(alice, activation_status="active")
    response = delete(alice_client)
    assert response.status_code == 409 and 'data-error-code="account_has_active_numbers"' in response.content.decode()
    assert User.objects.get(pk=alice.pk).is_active


def test_deleting_needs_the_password_and_the_confirmation(alice_client, alice):
    assert delete(alice_client, password="wrong").status_code == 400
    assert alice_client.post(reverse("portal:account-delete"), {"password": TEST_PASSWORD}).status_code == 400
    assert User.objects.get(pk=alice.pk).closed_at is None


def test_deleting_an_empty_account_closes_it_and_keeps_the_ledger(alice_client, alice, fund):
    # given: money came and went (an entry in the ledger), a key, a finished number
    fund(alice, 150)
    wallet = Account.objects.get(user=alice, type=Account.Type.USER_WALLET)
    Account.objects.filter(pk=wallet.pk).update(balance_cents=0)  # as if spent
    entries = JournalEntry.objects.count()
    issued = issue_api_key(alice)
    placed(alice)
    old_email = alice.email
    # when
    response = delete(alice_client)
    # then
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active and alice.closed_at is not None and alice.email != old_email
    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is not None
    assert JournalEntry.objects.count() == entries
    assert alice_client.get(reverse("portal:settings")).status_code == 302  # logged out
    # the address can sign up again as someone new
    assert not User.objects.filter(tenant=alice.tenant, email=old_email).exists()


def test_a_code_is_mailed_when_the_user_asked_for_it(
    synced, alice_client, alice, fund, django_capture_on_commit_callbacks
):
    from tests.portal.test_history_and_reports import bought_with_code

    User.objects.filter(pk=alice.pk).update(notify_code_by_email=True, language="ru")
    with django_capture_on_commit_callbacks(execute=True):
        activation = bought_with_code(alice_client, alice, fund, synced)
    (message,) = [m for m in mail.outbox if "222333" in m.subject]
    assert message.to == [alice.email]
    assert "222333" in message.body and activation.phone in message.body
    assert "Код" in message.body  # in the user's language


def test_no_code_mail_without_the_setting(synced, alice_client, alice, fund, django_capture_on_commit_callbacks):
    from tests.portal.test_history_and_reports import bought_with_code

    with django_capture_on_commit_callbacks(execute=True):
        bought_with_code(alice_client, alice, fund, synced)
    assert not [m for m in mail.outbox if "222333" in m.subject]
