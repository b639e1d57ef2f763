"""The account's settings: language, theme, code e-mails; the e-mail address (proved by a link before it is
used), the password; deleting the account (refused while money or numbers are left). Plus the header's
language switcher and theme toggle, which work before logging in too (a cookie) and are kept on the account
after."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services as accounts_services
from core.errors import DomainError
from portal import services
from portal.context_processors import THEME_COOKIE
from portal.errors import page_error
from portal.forms import (
    AccountDeleteForm,
    AccountPasswordChangeForm,
    EmailChangeForm,
    LanguageForm,
    PreferencesForm,
    ThemeForm,
)
from portal.throttling import over_limit
from portal.views.base import login_required, storefront_view

COOKIE_AGE = 365 * 24 * 3600
MAILS_PER_HOUR = 5


def _next(request, fallback: str = "/") -> str:
    target = request.POST.get("next", "")
    hosts = {request.get_host()}
    if url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=request.is_secure()):
        return target
    return fallback


def _page(request, status: int = 200, **forms):
    user = request.user
    context = {
        "preferences_form": PreferencesForm(
            initial={"language": user.language, "theme": user.theme, "notify_code_by_email": user.notify_code_by_email}
        ),
        "email_form": EmailChangeForm(user=user),
        "password_form": AccountPasswordChangeForm(user),
        **forms,
    }
    return render(request, "portal/settings/index.html", context, status=status)


@storefront_view
@login_required
def account_settings(request):
    return _page(request)


@storefront_view
@login_required
@require_POST
def preferences_save(request):
    form = PreferencesForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, preferences_form=form)
    accounts_services.user_preferences_set(
        user=request.user,
        language=form.cleaned_data["language"],
        theme=form.cleaned_data["theme"],
        notify_code_by_email=form.cleaned_data["notify_code_by_email"],
    )
    translation.activate(request.user.language or translation.get_language_from_request(request))
    messages.success(request, _("Your settings are saved."))
    response = redirect("portal:settings")
    _remember(response, language=form.cleaned_data["language"], theme=form.cleaned_data["theme"])
    return response


def _remember(response, *, language: str | None = None, theme: str | None = None) -> None:
    if language is not None:
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME, language, max_age=COOKIE_AGE, samesite="Lax", secure=False
            )
        else:
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    if theme is not None:
        if theme:
            response.set_cookie(THEME_COOKIE, theme, max_age=COOKIE_AGE, samesite="Lax")
        else:
            response.delete_cookie(THEME_COOKIE)


def _switch(request, form_class, field: str):
    """One preference from the header's switcher: saved on a signed-in user, remembered in a cookie for anyone,
    then back to the page it was chosen on (an invalid choice changes nothing)."""
    form = form_class(request.POST)
    if not form.is_valid():
        return redirect(_next(request))
    choice = {field: form.cleaned_data[field]}
    if request.user.is_authenticated:
        accounts_services.user_preferences_set(user=request.user, **choice)
    response = redirect(_next(request))
    _remember(response, **choice)
    return response


@storefront_view
@require_POST
def language_switch(request):
    return _switch(request, LanguageForm, "language")


@storefront_view
@require_POST
def theme_switch(request):
    return _switch(request, ThemeForm, "theme")


@storefront_view
@login_required
@require_POST
def email_change(request):
    form = EmailChangeForm(request.POST, user=request.user)
    if not form.is_valid():
        return _page(request, status=400, email_form=form)
    if over_limit(request, group="mail", per_hour=MAILS_PER_HOUR):
        form.add_error(None, _("Too many e-mails requested from your network. Try again in an hour."))
        return _page(request, status=429, email_form=form)
    try:
        services.email_change_request(
            user=request.user, new_email=form.cleaned_data["email"], base_url=request.build_absolute_uri("/")
        )
    except accounts_services.AccountError:
        form.add_error("email", _("This e-mail address is already registered in this store."))
        return _page(request, status=400, email_form=form)
    messages.success(
        request,
        _("We sent a link to %(email)s. Your address changes when you open it.")
        % {"email": form.cleaned_data["email"]},
    )
    return redirect("portal:settings")


@storefront_view
def email_change_confirm(request, token: str):
    try:
        user = services.email_change_confirm(tenant=request.tenant, token=token)
    except accounts_services.AccountError:
        user = None
    if user is None:
        return render(request, "portal/auth/verify_failed.html", status=400)
    messages.success(request, _("Your e-mail address is now %(email)s.") % {"email": user.email})
    return redirect("portal:settings" if request.user.is_authenticated else "portal:login")


@storefront_view
@login_required
@require_POST
def password_change(request):
    form = AccountPasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _page(request, status=400, password_form=form)
    user = accounts_services.user_password_set(user=request.user, password=form.cleaned_data["new_password1"])
    update_session_auth_hash(request, user)  # this session stays signed in; others are signed out
    messages.success(request, _("Your password is changed."))
    return redirect("portal:settings")


@storefront_view
@login_required
def account_delete(request):
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_close(user=request.user)
        except DomainError as exc:
            return render(request, "portal/settings/delete.html", {"form": form, "error": page_error(exc)}, status=409)
        logout(request)
        messages.success(request, _("Your account is deleted. Thank you for using our store."))
        return redirect("portal:catalog")
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/settings/delete.html", {"form": form}, status=status)
