"""Settings for the test suite: the environment's settings plus test-only defaults."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA=")

from reseller.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests; never in production
SECURE_SSL_REDIRECT = False
ALLOWED_HOSTS = ["*"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

if not os.environ.get("REDIS_URL"):
    # Tests use threads, not processes: an in-memory cache with atomic add/incr (the file cache's are not).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
PAYMENTS_DEMO_PROVIDER = True  # the demo checkout is how the top-up tests pay

# The hot-path caches are off for the suite (many fixtures change tenants with QuerySet.update(), which does not
# invalidate them); tests/accounts/test_key_cache.py, tests/catalog/test_pricing_terms_cache.py and
# tests/activations/test_query_counts.py turn them on.
API_KEY_CACHE_SECONDS = 0
PRICING_TERMS_CACHE_SECONDS = 0
