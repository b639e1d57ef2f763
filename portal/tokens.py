"""One-time links for e-mail verification, built like Django's password-reset tokens.

The token hashes the user's id, address and verification time: it stops working once the address is verified
(or changed) and after ``PASSWORD_RESET_TIMEOUT`` (3 days), and it is signed with the ``SECRET_KEY``.
"""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "portal.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        verified = "" if user.email_verified_at is None else user.email_verified_at.replace(microsecond=0).isoformat()
        return f"{user.pk}{user.email}{verified}{user.tenant_id}{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()
