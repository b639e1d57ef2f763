"""Settings for the reseller platform, read from the environment only (12-factor).

An optional ``.env`` file at the project root is read first (``make run`` writes one with a
random development SECRET_KEY); real environment variables always win over it.

Every tunable is declared here, once, and documented in the README's table; code reads ``settings.X``.
Importing this module has no side effect: the folders it names are created when Django starts
(``core.runtime``).
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-3f9a1c7e5b2d4a6c8e0f"

# ".localhost": browsers resolve every *.localhost name to loopback; make run's second storefront lives there.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,.localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # The operator console's theme (django-unfold) and its admin site (console.sites.ConsoleAdminSite).
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "core",
    "reseller",
    "accounts",
    "wallet",
    "catalog",
    "activations",
    "platfone",
    "compat",
    # The end-user storefront (portal/) and what it is built on.
    "django_htmx",
    "csp",
    "axes",
    "portal",
    "console",
    "webhooks",
    "payments",
    "health_check",  # /health/ for load balancers, /health/suppliers/ for monitoring (reseller/health.py)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.api.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.TenantMiddleware",
    # The storefront: a session of one tenant's user counts only on that tenant's hosts; CSP; htmx; log-in
    # throttling (axes last, as its documentation asks).
    "portal.middleware.StorefrontUserMiddleware",
    "portal.middleware.StorefrontLanguageMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "reseller.urls"
WSGI_APPLICATION = "reseller.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.storefront",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
# Local state of the embedded defaults (SQLite, file cache, file-system broker, demo key, logs).
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (runserver, tests with threads) write to one file: wait instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, rate limits, broker -----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",  # Django's, reusing its redis-py clients
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "reseller"),
        }
    }
else:
    # No services: a file cache under var/ that the processes of one machine (web, worker, beat) share.
    # Its increments are not atomic, so rate limits and upstream budgets are approximate under concurrency;
    # production sets REDIS_URL.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

RATELIMIT_USE_CACHE = "default"
# Proxies (IPs or CIDR networks) whose X-Forwarded-For is believed: the client is the right-most hop that is not
# one of them (core/api/clientip.py). Empty: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
SILENCED_SYSTEM_CHECKS = [
    # E-mails are unique per tenant only; accounts.backends.TenantEmailBackend resolves the tenant first.
    "auth.W004",
]

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    # Our tasks take seconds: a task whose worker died is redelivered after 5 minutes, not Redis' default hour.
    {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}
    if REDIS_URL
    else {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-done"),
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
        # Look for new tasks 10 times a second (kombu's default is once): a customer webhook leaves within ~0.1 s.
        "polling_interval": 0.1,
    }
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Two queues. "notify" carries what a customer waits for (applying the supplier's webhooks, the customers' webhook
# fan-out and delivery, the code by e-mail); the Procfile's `notify` worker serves only it, so a slow periodic task
# (a sync, the alert check) never holds a code back. A worker started without -Q serves both, so an installation
# without the `notify` process still delivers.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery", routing_key="celery"), Queue("notify", routing_key="notify"))
CELERY_TASK_ROUTES = {
    "activations.apply_webhook_event": {"queue": "notify"},  # the supplier's webhook, stored by the request
    "webhooks.fan_out": {"queue": "notify"},
    "webhooks.deliver": {"queue": "notify"},
    "portal.code_email": {"queue": "notify"},
}

# --- auth ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# axes first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.backends.TenantEmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- secrets at rest (the tenants' supplier credentials) ------------------------------------------
# Fernet keys, comma-separated, newest first: the first encrypts, all decrypt (rotation: put a new key first,
# run `manage.py rotate_field_encryption`, then drop the old one). While DEBUG, a key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off (see the README).")
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(f"field-encryption:{SECRET_KEY}".encode()).digest()).decode()
    ]

# --- the operator console -----------------------------------------------------------------------
CONSOLE_DASHBOARD_CACHE_SECONDS = env_int("CONSOLE_DASHBOARD_CACHE_SECONDS", 60)  # dashboard figures reused this long
CONSOLE_SUPPLIER_BALANCE_CACHE_SECONDS = env_int("CONSOLE_SUPPLIER_BALANCE_CACHE_SECONDS", 120)  # supplier balance
UNFOLD = {
    "SITE_TITLE": "Reseller console",
    "SITE_HEADER": "Reseller console",
    "SITE_SYMBOL": "sim_card",
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "console.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": False,
        "show_all_applications": True,
        "navigation": "console.navigation.sidebar",
    },
}

# --- i18n, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- the storefront (portal) ----------------------------------------------------------------
# Uploaded files (tenant logos) go to the default storage: MEDIA_ROOT on one machine; several web hosts
# configure a shared storage instead. The portal serves logos itself (no MEDIA_URL needed).
MEDIA_ROOT = VAR_DIR / "media"
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:catalog"
# Mail (sign-up verification, password reset, operator alerts): SMTP when EMAIL_HOST is set, else each message
# is written to a file in $VAR_DIR/mail.
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "no-reply@localhost")
# Log-in throttling (django-axes): 5 failed log-ins of one e-mail from one client IP lock that pair out for
# 15 minutes. The e-mail is qualified by the storefront (the same address may be a user of two tenants).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "portal.throttling.axes_username"
AXES_CLIENT_IP_CALLABLE = "portal.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "portal.views.auth.locked_out"
# Content-Security-Policy: no inline script or style anywhere in the storefront. The operator admin and the
# interactive API docs (Swagger UI) bring their own inline code and are left out.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/", "/api/v1/docs/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- the API ----------------------------------------------------------------------------------
# Request bodies above this size are refused with 400 invalid_params before they are parsed.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 6 * 1024 * 1024)
CATALOG_RATE_LIMIT_PER_MINUTE = env_int("CATALOG_RATE_LIMIT_PER_MINUTE", 120)
# Requests without a valid API key, per client IP per minute, before they get 429 instead of 401.
UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE = env_int("UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE", 60)
DEFAULT_TENANT_SLUG = env_str("DEFAULT_TENANT_SLUG")
# The URLconf of the clean API paths; index.php?path= and index.php/<path> resolve against it too.
API_URLCONF = "reseller.api_urls"

# --- the upstream (Platfone) ---------------------------------------------------------------
PLATFONE_CONNECT_TIMEOUT = env_float("PLATFONE_CONNECT_TIMEOUT", 3.05)  # seconds, per request
PLATFONE_READ_TIMEOUT = env_float("PLATFONE_READ_TIMEOUT", 10.0)
PLATFONE_MAX_RETRIES = env_int("PLATFONE_MAX_RETRIES", 2)  # retries of a failed GET; POST/PUT never retried

# --- prices --------------------------------------------------------------------------------
PRICE_CACHE_SECONDS = env_int("PRICE_CACHE_SECONDS", 90)  # a live upstream price is reused this long
PRICE_STALE_MAX_SECONDS = env_int("PRICE_STALE_MAX_SECONDS", 600)  # oldest price served while the upstream is down
PRICE_LOCK_WAIT_SECONDS = env_float("PRICE_LOCK_WAIT_SECONDS", 10)  # wait for another request's upstream call
PRICE_FAILURE_BACKOFF_SECONDS = env_int("PRICE_FAILURE_BACKOFF_SECONDS", 10)  # a failed pair is not retried sooner

# --- activations ---------------------------------------------------------------------------
# A poll reaches the upstream only when the stored state is older than this...
ACTIVATION_FRESH_SECONDS = env_int("ACTIVATION_FRESH_SECONDS", 5)
# Hot-path caches (issue 14): API key -> key, user, tenant (accounts.key_cache) and a tenant's catalog ids and
# markup rules (catalog.pricing), both invalidated at once by every change made through a service or a model save.
# 0 turns a cache off (the test suite does, except the tests of these caches: its fixtures edit rows with update()).
API_KEY_CACHE_SECONDS = 60
PRICING_TERMS_CACHE_SECONDS = 60
# ... or than this while the tenant's webhooks are healthy (one arrived within WEBHOOK_HEALTHY_SECONDS).
ACTIVATION_SAFETY_SYNC_SECONDS = env_int("ACTIVATION_SAFETY_SYNC_SECONDS", 120)
WEBHOOK_HEALTHY_SECONDS = env_int("WEBHOOK_HEALTHY_SECONDS", 900)
ACTIVATION_SYNC_CLAIM_SECONDS = env_int("ACTIVATION_SYNC_CLAIM_SECONDS", 15)  # one syncer per activation this long
ACTIVATION_SYNC_BACKOFF_SECONDS = env_int("ACTIVATION_SYNC_BACKOFF_SECONDS", 5)  # after a failed upstream read
# An activation past expire_at that the upstream cannot confirm is expired here after this grace period.
ACTIVATION_LOCAL_EXPIRY_GRACE_SECONDS = env_int("ACTIVATION_LOCAL_EXPIRY_GRACE_SECONDS", 120)

# --- customer webhooks (the webhooks app) ---------------------------------------------------------
# Loopback targets, and plain http to them, for tests and `make run`; otherwise only public addresses over https.
CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK = env_bool("CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK", False)
CUSTOMER_WEBHOOK_CONNECT_TIMEOUT = env_float("CUSTOMER_WEBHOOK_CONNECT_TIMEOUT", 3.05)  # seconds, per attempt
CUSTOMER_WEBHOOK_READ_TIMEOUT = env_float("CUSTOMER_WEBHOOK_READ_TIMEOUT", 5.0)
CUSTOMER_WEBHOOK_LOG_DAYS = env_int("CUSTOMER_WEBHOOK_LOG_DAYS", 30)  # events and delivery logs kept this long

# --- top-ups (the payments app) ------------------------------------------------------------------
# Where the providers' APIs are: their own in production; the tests point them at local fake servers.
PAYMENTS_STRIPE_API_BASE = env_str("PAYMENTS_STRIPE_API_BASE", "https://api.stripe.com")
PAYMENTS_CRYPTOMUS_API_BASE = env_str("PAYMENTS_CRYPTOMUS_API_BASE", "https://api.cryptomus.com")
# The demo provider credits wallets without real money: only where it is meant to (development, demos, tests).
PAYMENTS_DEMO_PROVIDER = env_bool("PAYMENTS_DEMO_PROVIDER", DEBUG)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # No OPTIONS metadata (it named internal classes outside the envelope): OPTIONS is a 405 like any other.
    "DEFAULT_METADATA_CLASS": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Reseller API",
    "DESCRIPTION": (
        # Markdown, rendered by the docs page: paths stay in code spans, where `<path>` is text, not an HTML tag.
        "Order temporary phone numbers and receive SMS verification codes. All amounts are integer USD cents.\n\n"
        "Every path works in three styles, all the same:\n\n"
        "- `/api/v1/index.php?path=<path>` (the public API document's base URL), "
        "e.g. `/api/v1/index.php?path=activations/42/poll`\n"
        "- `/api/v1/index.php/<path>`, e.g. `/api/v1/index.php/activations/42/poll`\n"
        "- `/api/v1/<path>`, e.g. `/api/v1/activations/42/poll` (the form this page lists)\n\n"
        "Query parameters follow as usual: `/api/v1/index.php?path=price&service_id=whatsapp&country_id=us`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["core.api.schema.strip_optional_trailing_slash"],
    "ENUM_NAME_OVERRIDES": {
        "WebhookEndpointStatusEnum": "webhooks.models.Endpoint.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.Delivery.Status",
    },
}

# --- security (production) -----------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^health/"]  # load balancers probe over plain http

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "axes": {"level": "WARNING"}},
}

# --- the storefront's languages (portal part 2) ------------------------------------------------
# English and Russian are complete (locale/ru, compiled .mo files committed: no gettext needed to run or test).
# A user's choice is kept on their account (and in a cookie before they log in); otherwise the browser's.
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "storefront_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
