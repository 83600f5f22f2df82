"""One settings module, driven by the environment (every variable is listed in README.md
and .env.example). Defaults run on a laptop: SQLite in the project folder, DEBUG on, and
secrets generated once into an ignored file."""

import json
import secrets
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from dashboard.env import envbool, envfloat, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DEBUG", True)


def _local_secrets() -> dict:
    """Secrets for local runs only, made once and kept in an ignored file."""
    path = BASE_DIR / ".local-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _secret(name: str) -> str:
    value = envstr(name, "")
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set in the environment when DEBUG is off")
    return _local_secrets()[name]


SECRET_KEY = _secret("SECRET_KEY")
# Fernet keys, comma-separated, newest first: the first encrypts, all decrypt
# (rotate with `manage.py rotate_token_key`).
TOKEN_ENCRYPTION_KEYS = [k.strip() for k in _secret("TOKEN_ENCRYPTION_KEYS").split(",") if k.strip()]

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS") or (["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "axes",
    "csp",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # Serves the collected static files itself; runserver does so while developing.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Password guessing: 5 failures for one username from one address lock it for 15 min.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = envfloat("AXES_COOLOFF_HOURS", 0.25, minimum=0.01)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# No inline script or style anywhere: every page's script is a static file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

SQLITE_PATH = envstr("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))
_SQLITE_OPTIONS = {
    # WAL lets pages read while a sync writes; IMMEDIATE takes the write lock at BEGIN so
    # two writers queue on the busy timeout instead of failing mid-transaction.
    # A 64 MB page cache: storing a busy day updates four indexes at random places.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
    "transaction_mode": "IMMEDIATE",
    "timeout": envint("SQLITE_TIMEOUT", 60, minimum=1),
}
if envstr("DATABASE_URL", ""):
    DATABASES = {"default": dj_database_url.parse(envstr("DATABASE_URL", ""), conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": _SQLITE_OPTIONS,
            # A file, not shared-cache memory: the sync writes from worker threads and
            # shared cache answers "table is locked" instead of waiting.
            "TEST": {"NAME": str(BASE_DIR / ".test-db.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "calls"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files in production (collectstatic); plain ones while developing
    # and testing, where nothing is collected.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"

# The upstream platform and how we talk to it (dashboard/client.py).
VOS_DEFAULT_BASE_URL = envstr("VOS_DEFAULT_BASE_URL", "https://ai.api.longlonglong.cn/agent-api")
VOS_CONNECT_TIMEOUT = envfloat("VOS_CONNECT_TIMEOUT", 5.0, minimum=0.1)
VOS_READ_TIMEOUT = envfloat("VOS_READ_TIMEOUT", 30.0, minimum=0.1)
# Wall-clock limit for one whole day (all its pages and retries): requests' read timeout
# is per socket read, so a slow drip would otherwise never end.
VOS_DAY_DEADLINE = envfloat("VOS_DAY_DEADLINE", 120.0, minimum=1.0)
VOS_RETRIES = envint("VOS_RETRIES", 3)
VOS_BACKOFF = envfloat("VOS_BACKOFF", 0.5)
VOS_RETRY_AFTER_MAX = envint("VOS_RETRY_AFTER_MAX", 30)
VOS_MAX_BODY_BYTES = envint("VOS_MAX_BODY_BYTES", 200 * 1024 * 1024, minimum=1024)
VOS_PAGE_SIZE = envint("VOS_PAGE_SIZE", 1000, minimum=1)
VOS_PAGE_PARALLELISM = envint("VOS_PAGE_PARALLELISM", 4, minimum=1)

# The sync service (dashboard/sync.py).
SYNC_PARALLELISM = envint("SYNC_PARALLELISM", 4, minimum=1)
SYNC_FINAL_MARGIN_HOURS = envfloat("SYNC_FINAL_MARGIN_HOURS", 6.0)
SYNC_TTL_SECONDS = envint("SYNC_TTL_SECONDS", 300)
# How long a page may wait for missing or stale days before it shows what is stored.
PAGE_SYNC_SECONDS = envfloat("PAGE_SYNC_SECONDS", 15.0, minimum=1.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # urllib3 logs full URLs at DEBUG; it never sees the token (it is a header) but stays
    # quiet unless asked.
    "loggers": {"urllib3": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_HTTPONLY = True
