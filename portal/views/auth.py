"""Sign-up, log-in, log-out, password reset and e-mail verification, per storefront.

Django's auth views over ``accounts.backends.TenantEmailBackend`` (which finds the user by e-mail within the
host's tenant); django-axes throttles failed log-ins per (storefront, e-mail, IP). Forms that send mail are
limited per IP too. django-allauth was not used: its e-mail addresses, sign-up and password reset look users
up by e-mail across the whole table, while ours are unique per tenant only.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.services import AccountError
from portal import services
from portal.forms import EmailAuthenticationForm, SignUpForm, TenantPasswordResetForm, TenantSetPasswordForm
from portal.throttling import over_limit
from portal.views.base import login_required, storefront_view

SIGNUPS_PER_HOUR = 20
MAILS_PER_HOUR = 20
BACKEND = "accounts.backends.TenantEmailBackend"


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


@storefront_view
def sign_up(request):
    if request.user.is_authenticated:
        return redirect("portal:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if over_limit(request, group="signup", per_hour=SIGNUPS_PER_HOUR):
            form.add_error(None, _("Too many sign-ups from your network. Try again in an hour."))
        else:
            try:
                user = services.user_sign_up(
                    tenant=request.tenant,
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password1"],
                    base_url=_base_url(request),
                )
            except AccountError:
                form.add_error(
                    "email", _("An account with this e-mail already exists here. Log in, or reset your password.")
                )
            else:
                login(request, user, backend=BACKEND)
                messages.success(
                    request,
                    _("Welcome! We sent a link to %(email)s: open it to confirm your address before your first order.")
                    % {"email": user.email},
                )
                return redirect("portal:dashboard")
    return render(request, "portal/auth/signup.html", {"form": form})


@method_decorator(storefront_view, name="dispatch")
class LogInView(auth_views.LoginView):
    template_name = "portal/auth/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        # The right password of a suspended user: say so, instead of "wrong password" (nothing leaks: only
        # who knows the password learns the account is suspended).
        if services.user_is_suspended(
            tenant=self.request.tenant,
            email=self.request.POST.get("username", ""),
            password=self.request.POST.get("password", ""),
        ):
            return render(self.request, "portal/guards/suspended.html", status=403)
        return super().form_invalid(form)


@method_decorator(storefront_view, name="dispatch")
class LogOutView(auth_views.LogoutView):
    pass


@method_decorator(storefront_view, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    template_name = "portal/auth/password_reset.html"
    email_template_name = "portal/email/password_reset_body.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    form_class = TenantPasswordResetForm
    success_url = reverse_lazy("portal:password-reset-done")

    def form_valid(self, form):
        if over_limit(self.request, group="mail", per_hour=MAILS_PER_HOUR):
            form.add_error(None, _("Too many e-mails requested from your network. Try again in an hour."))
            return self.form_invalid(form)
        form.tenant = self.request.tenant
        self.from_email = services.tenant_from_email(self.request.tenant)
        self.extra_email_context = {"tenant": self.request.tenant}
        return super().form_valid(form)


@method_decorator(storefront_view, name="dispatch")
class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/auth/password_reset_done.html"


@method_decorator(storefront_view, name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/auth/password_reset_confirm.html"
    form_class = TenantSetPasswordForm
    success_url = reverse_lazy("portal:password-reset-complete")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is not None and user.tenant_id != self.request.tenant.pk:
            return None  # a link of another storefront's user is invalid here
        return user


@method_decorator(storefront_view, name="dispatch")
class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/auth/password_reset_complete.html"


@storefront_view
def verify_email(request, uidb64: str, token: str):
    user = services.email_verify(tenant=request.tenant, uidb64=uidb64, token=token)
    if user is None:
        return render(request, "portal/auth/verify_failed.html", status=400)
    messages.success(request, _("Thank you: your e-mail address is confirmed. You can buy numbers now."))
    if request.user.is_authenticated and request.user.pk == user.pk:
        return redirect("portal:dashboard")
    return redirect("portal:login")


@storefront_view
@login_required
@require_POST
def verify_email_resend(request):
    user = request.user
    if user.email_verified_at is not None:
        messages.info(request, _("Your e-mail address is already confirmed."))
    elif over_limit(request, group="mail", per_hour=MAILS_PER_HOUR):
        messages.error(request, _("Too many e-mails requested from your network. Try again in an hour."))
    else:
        services.verification_email_send(user=user, base_url=_base_url(request))
        messages.success(request, _("We sent a new link to %(email)s.") % {"email": user.email})
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("portal:dashboard")
    return redirect(next_url)


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out log-in: a page that says when to try again (429)."""
    return render(request, "portal/auth/locked_out.html", status=429)
