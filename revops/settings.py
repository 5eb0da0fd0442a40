"""Daramad settings: one module, driven by environment variables only.

Every variable is listed in `.env.example` and the README. Test-only overrides live in
`revops/test_settings.py`.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A `.env` file is read when present (never committed); real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# In debug mode a fixed, clearly unsafe key is acceptable; in production a missing key must
# stop the process at start instead of signing sessions with a guessable one.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
# manage.py commands (kpis, import_dataset, migrate…) sign nothing that outlives them: one
# started without a key gets a random one of its own, so `python manage.py kpis` works
# from a bare shell. Servers (gunicorn, Celery) still refuse to start without a key.
COMMAND_LINE = os.environ.get("DARAMAD_COMMAND_LINE") == "1"
if not SECRET_KEY and COMMAND_LINE and not DEBUG:
    SECRET_KEY = secrets.token_urlsafe(50)
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'`) or run with DJANGO_DEBUG=true for development."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "pgtrigger",
    "pghistory",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "revops",
    "crm",
    "pipeline",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "revops.middleware.RequestMemoMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "revops.db_router.ReplicaReadsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "revops.middleware.UserPreferencesMiddleware",
    "revops.middleware.BodySizeLimitMiddleware",
    "pghistory.middleware.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into our lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "revops.urls"
WSGI_APPLICATION = "revops.wsgi.application"
ASGI_APPLICATION = "revops.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # Dates, numbers and money in the viewer's calendar and digits (revops/l10n.py).
            "builtins": ["revops.templatetags.local"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "revops.context_processors.navigation",
            ],
        },
    },
]

# --- Database: Postgres only -------------------------------------------------------------
# Unset, the machine's Postgres on 127.0.0.1 is used; `make run`/`make test` go through
# revops/launcher.py, which falls back to an embedded server when that one does not answer.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/daramad")
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…).")
# A unix-socket directory arrives percent-encoded in the URL's host part.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"] or "")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
    "DATABASE_CONNECT_TIMEOUT", default=5
)
# Postgres's JIT compiler spends a second compiling the KPI aggregates (their subqueries
# inflate the cost estimate) to save milliseconds; measured on 100k deals: 1.4 s → 0.25 s.
if not env.bool("DATABASE_JIT", default=False):
    DATABASES["default"]["OPTIONS"]["options"] = "-c jit=off"
# A read replica (optional): safe requests read from it, writes and the user who just wrote
# use the primary (revops/db_router.py).
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = {
        **DATABASES["default"],
        **env.db_url("DATABASE_REPLICA_URL"),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": dict(DATABASES["default"]["OPTIONS"]),
        # Tests read the replica through the primary's connection.
        "TEST": {"MIRROR": "default"},
    }
    DATABASES["replica"]["HOST"] = unquote(DATABASES["replica"]["HOST"] or "")
DATABASE_ROUTERS = ["revops.db_router.PrimaryReplicaRouter"]
# How long a user who wrote keeps reading the primary (above the replica's usual lag).
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, results and cache ----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="daramad"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# --- Celery ------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 24 * 3600
# No task's result is read (jobs report through Postgres): sending one then never waits on
# the result backend, which retried for 20 s on every enqueue while Redis was down.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "metrics.tasks.*": {"queue": "kpi"},
    "crm.tasks.import_*": {"queue": "import"},
    "pipeline.tasks.import_*": {"queue": "import"},
    "revops.tasks.import_*": {"queue": "import"},
}
# Acknowledge after the task ran, and give a task back to the queue when its pool child is
# killed (acks_late alone loses it). A worker that dies whole: Redis hands its unacked
# messages out again after the visibility timeout; kombu sweeps for them every
# interval * throttle seconds. 60 s + 10 s keeps redelivery well inside two minutes.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    "global_keyprefix": env.str("CELERY_KEY_PREFIX", default=""),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "global_keyprefix": env.str("CELERY_KEY_PREFIX", default=""),
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Only the beat holding this Redis lock sends periodic tasks (revops/beat.py); a second
# beat stands by and takes over within BEAT_LOCK_SECONDS of the first one dying.
CELERY_BEAT_SCHEDULER = "revops.beat:SingleBeatScheduler"
BEAT_LOCK_SECONDS = env.float("BEAT_LOCK_SECONDS", default=30)

# --- Auth --------------------------------------------------------------------------------
AUTH_USER_MODEL = "revops.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one
# e-mail from one address, that pair is refused for LOGIN_COOLOFF_MINUTES; other people
# (and the same person elsewhere) can still sign in. A success clears the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "revops.views.login_username"
AXES_LOCKOUT_CALLABLE = "revops.views.login_locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Behind a reverse proxy, the client's address is the left-most X-Forwarded-For entry the
# TRUSTED_PROXY_COUNT proxies added; without one, the peer address (never a header).
if _proxies := env.int("TRUSTED_PROXY_COUNT", default=0):
    AXES_IPWARE_PROXY_COUNT = _proxies
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# --- E-mail ------------------------------------------------------------------------------
# Console backend by default: reset links are printed where the server runs.
_email = env.email_url("EMAIL_URL", default="consolemail://")
_smtp_options = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS"),
    "use_ssl": _email.get("EMAIL_USE_SSL"),
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {
            key: value for key, value in _smtp_options.items() if value not in (None, "", False)
        },
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Daramad <noreply@localhost>")
# Where the app is reached, for the links in e-mails sent from workers (no request there).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Internationalisation ----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fa", _("Persian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Tehran")
USE_TZ = True

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".data" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Uploaded imports wait here until they are imported (never served publicly).
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".data" / "media")
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
IMPORT_UPLOAD_MAX_BYTES = env.int("IMPORT_UPLOAD_MAX_BYTES", default=512 * 1024 * 1024)

# --- Security ----------------------------------------------------------------------------
# A strict policy from the first page: scripts and styles from our own origin or carrying
# the per-request nonce; no inline handlers, no eval.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
# Sessions are read from Redis (written through to Postgres): no query per request for them;
# from Postgres alone while Redis is down (revops/sessions.py).
SESSION_ENGINE = "revops.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind TLS (production), cookies are secure and HSTS is on; `DJANGO_SECURE=false`
# turns this off for a plain-HTTP deployment on a private network.
_secure = env.bool("DJANGO_SECURE", default=not DEBUG)
SESSION_COOKIE_SECURE = _secure
CSRF_COOKIE_SECURE = _secure
SECURE_SSL_REDIRECT = _secure and env.bool("DJANGO_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = 31536000 if _secure else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _secure
SECURE_HSTS_PRELOAD = _secure
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    # JSON in: a form-encoded body cannot tell the number 5 from the text "5", so typed
    # fields would be guessed; anything else is a 415 (imports have their own upload).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "revops.schema.ErrorsAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Requests per user and time unit (second, minute, hour, day); 429 beyond.
    "DEFAULT_THROTTLE_CLASSES": ["revops.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env.str("API_RATE_LIMIT", default="1200/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Daramad API",
    "DESCRIPTION": "The RevOps CRM's REST API.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set where several fields share it or share a field name.
    "ENUM_NAME_OVERRIDES": {
        "OutcomeEnum": "pipeline.models.Stage.Outcome",
        "LeadStatusEnum": "pipeline.models.Lead.Status",
        "HandoffStatusEnum": "pipeline.models.Handoff.Status",
        "NotificationKindEnum": "revops.models.Notification.Kind",
        "ActivityKindEnum": "crm.models.Activity.Kind",
        "OpportunityKindEnum": "pipeline.models.Opportunity.Kind",
        "HandoffKindEnum": "pipeline.models.Handoff.Kind",
    },
}

# --- Logging: to standard error, so commands keep standard output for their results ------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Failed sign-ins and lockouts are warnings; every success would be noise.
        "axes": {"level": "WARNING"},
    },
}

# --- Audit history (django-pghistory: Postgres triggers, so queryset.update() is seen too)
PGHISTORY_APPEND_ONLY = True
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# --- Product settings --------------------------------------------------------------------
HEALTHZ_BROKER_TIMEOUT = 0.5
