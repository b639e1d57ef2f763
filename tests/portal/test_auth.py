"""Sign-up, verification, log-in and password reset are per storefront: the same e-mail on two storefronts is
two people, and nothing of one storefront's accounts works on the other's host."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from tests.portal.conftest import ACME, GLOBEX, TEST_PASSWORD, host_client

pytestmark = pytest.mark.django_db

PASSWORD = "a-Strong-passw0rd-for-tests"


def sign_up(client, email="dana@example.com", password=PASSWORD):
    return client.post(
        reverse("portal:signup"), {"email": email, "password1": password, "password2": password}, follow=True
    )


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def test_signing_up_creates_a_user_of_this_storefront_and_mails_a_verification_link(tenant, acme_client):
    # when
    response = sign_up(acme_client)
    # then
    user = User.objects.get(email="dana@example.com")
    assert user.tenant == tenant and user.email_verified_at is None
    assert response.redirect_chain[-1][0] == reverse("portal:dashboard")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dana@example.com"]
    assert link_in(mail.outbox[0]).startswith(f"http://{ACME}/account/verify/")
    assert "Acme Numbers" in mail.outbox[0].from_email


def test_the_verification_link_verifies_once(tenant, acme_client):
    sign_up(acme_client)
    link = link_in(mail.outbox[0])
    # when
    response = acme_client.get(link, follow=True)
    # then
    assert User.objects.get(email="dana@example.com").email_verified_at is not None
    assert b"your e-mail address is confirmed" in response.content
    assert acme_client.get(link).status_code == 400  # used up


def test_a_verification_link_does_not_work_on_another_storefront(tenant, other_tenant, acme_client):
    sign_up(acme_client)
    link = link_in(mail.outbox[0]).replace(ACME, GLOBEX)
    assert host_client(GLOBEX).get(link).status_code == 400
    assert User.objects.get(email="dana@example.com").email_verified_at is None


def test_the_same_email_signs_up_on_two_storefronts_as_two_users(tenant, other_tenant, acme_client, globex_client):
    sign_up(acme_client)
    sign_up(globex_client)
    assert set(User.objects.filter(email="dana@example.com").values_list("tenant__slug", flat=True)) == {
        "acme",
        "globex",
    }


def test_signing_up_twice_on_one_storefront_is_refused_clearly(tenant, acme_client):
    sign_up(acme_client)
    response = sign_up(host_client(ACME))
    assert b"already exists here" in response.content
    assert User.objects.filter(email="dana@example.com").count() == 1


def test_a_weak_password_is_refused(tenant, acme_client):
    response = sign_up(acme_client, password="12345678")
    assert response.status_code == 200 and not User.objects.filter(email="dana@example.com").exists()
    assert b"too common" in response.content or b"entirely numeric" in response.content


def test_a_user_logs_in_on_their_storefront_only(alice, charlie):
    ok = host_client(ACME).post(reverse("portal:login"), {"username": alice.email, "password": TEST_PASSWORD})
    assert ok.status_code == 302 and ok["Location"] == reverse("portal:dashboard")
    refused = host_client(GLOBEX).post(reverse("portal:login"), {"username": alice.email, "password": TEST_PASSWORD})
    assert refused.status_code == 200 and b"not right" in refused.content


def test_an_operator_cannot_log_in_to_a_storefront(tenant, operator):
    response = host_client(ACME).post(reverse("portal:login"), {"username": operator.email, "password": TEST_PASSWORD})
    assert response.status_code == 200 and b"not right" in response.content


def test_a_session_cookie_of_one_storefront_is_not_valid_on_another(alice_client, charlie):
    # given alice's session cookie, copied onto globex's host
    cookie = alice_client.cookies["sessionid"].value
    thief = host_client(GLOBEX)
    thief.cookies["sessionid"] = cookie
    # then she is a stranger there
    response = thief.get(reverse("portal:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def test_log_ins_are_throttled_per_storefront_and_email(alice, charlie, other_tenant):
    for _ in range(5):
        host_client(ACME).post(reverse("portal:login"), {"username": alice.email, "password": "wrong"})
    locked = host_client(ACME).post(reverse("portal:login"), {"username": alice.email, "password": TEST_PASSWORD})
    assert locked.status_code == 429 and b"Too many failed log-ins" in locked.content
    # the same address is someone else on globex: not locked out there
    User.objects.create_user(email=alice.email, password=TEST_PASSWORD, tenant=other_tenant)
    elsewhere = host_client(GLOBEX).post(reverse("portal:login"), {"username": alice.email, "password": TEST_PASSWORD})
    assert elsewhere.status_code == 302


def test_a_password_reset_mails_only_this_storefronts_user(alice, other_tenant):
    host_client(GLOBEX).post(reverse("portal:password-reset"), {"email": alice.email})
    assert mail.outbox == []  # alice is no user of globex
    host_client(ACME).post(reverse("portal:password-reset"), {"email": alice.email})
    assert len(mail.outbox) == 1
    link = link_in(mail.outbox[0])
    assert link.startswith(f"http://{ACME}/account/reset/")
    # the link does not work on globex's host
    response = host_client(GLOBEX).get(link, follow=True)
    assert b"This link does not work" in response.content
    # it does on acme's
    response = host_client(ACME).get(link, follow=True)
    assert b"Choose a new password" in response.content


def test_storefront_pages_are_404_on_a_host_that_is_no_storefront(db):
    assert host_client("unknown.example").get("/").status_code == 404
