"""Feedback Commons settings, read from the environment.

No variable set gives the embedded single-machine setup: SQLite in WAL mode, Celery over
kombu's filesystem transport, the in-memory channel layer and a local-memory cache.
DATABASE_URL switches the database to PostgreSQL; REDIS_URL puts the Celery broker, the
channel layer and the cache on Redis. `.env.example` lists every variable with its default.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Arrow's C++ code allocates from its default pool, mimalloc unless this says otherwise, which
# keeps freed pages: building a release of a million battles held 50-60 MB more at its peak.
# Read once, when pyarrow is first imported, which is after the settings in every process.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="insecure-development-key-only-for-the-embedded-default" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)
MODELS_DIR = Path(env("MODELS_DIR", default=str(DATA_DIR / "models")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "channels",
    "django_celery_beat",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "template_partials",
    "community",
    "inference",
    "feedback",
    "training",
    "evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "community.middleware.RejectNulCharactersMiddleware",
    # Redis unreachable or no database connection free: a 503 (JSON under /api/), not a 500.
    "community.degraded.ServiceDegradedMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers and one writer work at once; IMMEDIATE takes the write lock at the
        # start of a transaction, so concurrent writers wait (timeout) instead of failing.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # Django's psycopg connection pool, one per process (docs/operations.md). Under ASGI every
    # request runs in a thread of its own, so persistent connections (CONN_MAX_AGE) piled up one
    # per thread until PostgreSQL refused new ones; the pool caps them at its max size, and a
    # request waits up to the timeout for a free one. A pool needs CONN_MAX_AGE = 0.
    DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=2)
    DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=10)
    DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=10.0)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": DATABASE_POOL_MIN_SIZE,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, channel layer, cache ----------------------------------------------------


def filesystem_broker_options(folder: Path) -> dict:
    """kombu's filesystem transport: messages are files in `folder` (created if missing)."""
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    # A cache call (throttles, rate limits) waits at most this long for Redis before the request
    # gets a 503 (community/degraded.py): a dead Redis fails fast instead of hanging every request.
    REDIS_CACHE_SOCKET_TIMEOUT = env.float("REDIS_CACHE_SOCKET_TIMEOUT", default=1.0)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CACHE_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_CACHE_SOCKET_TIMEOUT,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels_redis waits for messages with a 5 s blocking pop; redis-py's default read
            # timeout is also 5 s, so an idle socket's receive loop timed out and the socket died.
            # Reads get room past the pop; connecting to a dead Redis still fails within a second.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 1}]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(DATA_DIR / "celery-broker")

# --- Celery ---------------------------------------------------------------------------------
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # Counting battles and fitting a leaderboard takes seconds: light work, never behind a training run.
    "evaluation.leaderboards_refresh": {"queue": "default"},
    # The reaper and the schedule of training runs: light, never behind a training run.
    "training.runs_reap": {"queue": "default"},
    "training.runs_schedule": {"queue": "default"},
    "training.*": {"queue": "ml"},
    "evaluation.*": {"queue": "ml"},
    "feedback.answer_claims_split": {"queue": "ml"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3600)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Long jobs (release builds, training runs; docs/jobs.md): their time limit, and the lease their
# worker renews while it runs, which tells a dead worker. Redis hands a task nobody acknowledged
# to another worker after the visibility timeout: it outlasts the longest job, or a job still
# running would be delivered twice (a redelivered job does nothing: jobs are claimed once).
JOB_TIME_LIMIT = env.int("JOB_TIME_LIMIT", default=6 * 3600)
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=120)
# A job still queued this long after its task was sent gets its task sent again (a lost message).
JOB_RESEND_SECONDS = env.int("JOB_RESEND_SECONDS", default=900)
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = JOB_TIME_LIMIT + 3600

# --- Auth: custom user, allauth with e-mail and password ---------------------------------------
AUTH_USER_MODEL = "community.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="none")
ACCOUNT_LOGOUT_ON_GET = False
# Failed log-ins are limited per client address and per (address, account), never per account
# alone, so nobody can lock an owner out (community/account_adapter.py, docs/accounts.md).
ACCOUNT_ADAPTER = "community.account_adapter.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login_failed": env("ACCOUNT_LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
}
# Reverse proxies in front of the web server that append to X-Forwarded-For (0: REMOTE_ADDR is
# the client), so failed log-ins are counted per client and not per proxy.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# Mail (password resets, address confirmations, researcher-access decisions). With neither
# EMAIL_URL nor EMAIL_HOST set it is printed to the web server's output (var/log/web.log under
# run.sh), and the pages that say a mail was sent say so (docs/accounts.md). EMAIL_URL, e.g.
# smtp+tls://user:password@mail.example.org:587 (smtp+ssl://...:465 for TLS on connect), sets
# the SMTP server in one variable; otherwise EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER,
# EMAIL_HOST_PASSWORD, EMAIL_USE_TLS and EMAIL_USE_SSL do; EMAIL_BACKEND names any other backend.
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url_config(EMAIL_URL))
else:
    EMAIL_HOST = env("EMAIL_HOST", default="")
    EMAIL_PORT = env.int("EMAIL_PORT", default=587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=not env.bool("EMAIL_USE_SSL", default=False))
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
    EMAIL_BACKEND = env("EMAIL_BACKEND", default="") or (
        "django.core.mail.backends.smtp.EmailBackend"
        if EMAIL_HOST
        else "django.core.mail.backends.console.EmailBackend"
    )
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Feedback Commons <noreply@localhost>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "community.errors.api_exception_handler",
}

# --- Researchers' API: named API tokens, throttling, the OpenAPI schema and its docs ----------------
# Named, revocable API tokens (feedback.models.ApiToken, sent as "Authorization: Bearer <token>")
# come first; DRF's single token per user and browser sessions still work.
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"].insert(0, "feedback.researchapi.authentication.ApiTokenAuthentication")
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "feedback.researchapi.schema.ApiSchema"
# Each API token has its own budget (a session login: its user); anonymous callers share one per
# IP address. Over the budget the API answers 429 with a Retry-After header.
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "feedback.researchapi.throttling.ApiTokenRateThrottle",
    "feedback.researchapi.throttling.AnonymousRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "token": env("API_THROTTLE_RATE", default="1000/hour"),
    "anonymous": env("API_THROTTLE_ANON_RATE", default="100/hour"),
}
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
SPECTACULAR_SETTINGS = {
    "TITLE": "Feedback Commons API",
    "DESCRIPTION": "Communities, releases and the accepted live pool of Feedback Commons, for researchers. "
    "Make an API token on /me/tokens/ and send it as `Authorization: Bearer <token>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the drf-spectacular-sidecar app's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema names the schemes the docs teach: Bearer API tokens and the browser session. DRF's
    # older `Token <key>` still authenticates (docs/api.md) but is left out, so the schema has one header scheme.
    "AUTHENTICATION_WHITELIST": [
        "feedback.researchapi.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

# --- Internationalisation, static files -----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves static files from the ASGI process itself (no separate file server needed).
# In DEBUG it reads them straight from the apps and static/; in production from collectstatic's
# output, compressed and with hashed names.
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Inference and the arena --------------------------------------------------------------------
MODEL_SERVER_URL = env("MODEL_SERVER_URL", default="http://127.0.0.1:8001/v1")
ENDPOINT_TIMEOUT_SECONDS = env.float("ENDPOINT_TIMEOUT_SECONDS", default=60.0)
ARENA_PROMPT_MAX_CHARS = env.int("ARENA_PROMPT_MAX_CHARS", default=4000)
ARENA_MAX_TURNS = env.int("ARENA_MAX_TURNS", default=10)

# --- Production hardening: on whenever DEBUG is off ------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Demo set-up (the run command creates this admin on a fresh database) ------------------------
DEMO_ADMIN_EMAIL = env("DEMO_ADMIN_EMAIL", default="admin@example.com")
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="commons-demo")
# On a fresh database, seed the demo community with a small synthetic pool, its first release and
# its leaderboards (manage.py demo_setup); DEMO_DATA=0 leaves it empty.
DEMO_DATA = env.bool("DEMO_DATA", default=True)

# --- The task queue ----------------------------------------------------------------------------
# How long a served task stays reserved for the volunteer before others may get it.
TASK_RESERVATION_MINUTES = env.int("TASK_RESERVATION_MINUTES", default=15)
# Longest human-written answer (a correction) in characters.
TASK_ANSWER_MAX_CHARS = env.int("TASK_ANSWER_MAX_CHARS", default=8000)
# How many volunteers a gold item is served to before it retires.
TASK_GOLD_RESPONSES = env.int("TASK_GOLD_RESPONSES", default=1000)

# --- Donated conversations --------------------------------------------------------------------
# Largest export file (ChatGPT conversations.json, ShareGPT JSON) one upload may be, in bytes.
DONATION_MAX_BYTES = env.int("DONATION_MAX_BYTES", default=5 * 1024 * 1024)

# --- Releases ------------------------------------------------------------------------------------
RELEASES_DIR = Path(env("RELEASES_DIR", default=str(DATA_DIR / "releases")))
# The key of the keyed hash that turns contributor ids into pseudonyms. Never published; by
# default derived from DJANGO_SECRET_KEY. Changing it changes every later release's pseudonyms.
RELEASE_PSEUDONYM_KEY = env("RELEASE_PSEUDONYM_KEY", default="")

# --- Training runs (docs/runs.md) ------------------------------------------------------------------
# The base model a run fine-tunes unless it names another folder of MODELS_DIR.
TRAINING_BASE_MODEL = Path(env("TRAINING_BASE_MODEL", default=str(MODELS_DIR / "SmolLM2-135M-Instruct")))

# --- Rate limits (feedback/moderation/ratelimits.py) ---------------------------------------------
# Budgets per signed-in user and per client address, as "count/period" (second, minute, hour,
# day); "none" switches one off. Over a budget the request gets 429 with a Retry-After header.
# The window slides (a sliding window counter); counters live in the cache (Redis or local memory).
RATE_LIMITS = {
    "votes": env("RATE_LIMIT_VOTES", default="60/minute"),
    "submissions": env("RATE_LIMIT_SUBMISSIONS", default="30/minute"),
    "reports": env("RATE_LIMIT_REPORTS", default="20/hour"),
    "uploads": env("RATE_LIMIT_UPLOADS", default="20/hour"),
}
# Everyone behind one address (a household, a school's NAT) shares these: set them higher.
RATE_LIMITS_PER_ADDRESS = {
    "votes": env("RATE_LIMIT_VOTES_PER_ADDRESS", default="300/minute"),
    "submissions": env("RATE_LIMIT_SUBMISSIONS_PER_ADDRESS", default="150/minute"),
    "reports": env("RATE_LIMIT_REPORTS_PER_ADDRESS", default="100/hour"),
    "uploads": env("RATE_LIMIT_UPLOADS_PER_ADDRESS", default="60/hour"),
}
# Reverse proxies (addresses or networks) whose X-Forwarded-For header is believed. Empty: the
# header is ignored and the client address is the connection's. Behind one proxy on the same
# machine: RATE_LIMIT_TRUSTED_PROXIES=127.0.0.1,::1
RATE_LIMIT_TRUSTED_PROXIES = env.list("RATE_LIMIT_TRUSTED_PROXIES", default=[])
# Prefix of the counters' cache keys; a new prefix starts every counter afresh.
RATE_LIMIT_KEY_PREFIX = env("RATE_LIMIT_KEY_PREFIX", default="ratelimit")

# --- Moderation ------------------------------------------------------------------------------------
# An item with this many open reports is hidden until a moderator decides.
MODERATION_HIDE_AT_REPORTS = env.int("MODERATION_HIDE_AT_REPORTS", default=4)
# The rate rule: a person who submits more than this many texts within the window is flagged.
MODERATION_RATE_MAX_TEXTS = env.int("MODERATION_RATE_MAX_TEXTS", default=30)
MODERATION_RATE_WINDOW_MINUTES = env.int("MODERATION_RATE_WINDOW_MINUTES", default=10)
# Duplicate text: shorter texts are not compared ("thanks", "hi"); near duplicates from this
# MinHash similarity (estimated Jaccard similarity of word shingles) up.
MODERATION_DUPLICATE_MIN_CHARS = env.int("MODERATION_DUPLICATE_MIN_CHARS", default=40)
MODERATION_NEAR_DUPLICATE_SIMILARITY = env.float("MODERATION_NEAR_DUPLICATE_SIMILARITY", default=0.6)

# --- Arena leaderboards (docs/leaderboards.md) ---------------------------------------------------------
# How often the scheduled job recomputes every leaderboard (a new snapshot only where the counts changed).
LEADERBOARD_REFRESH_MINUTES = env.int("LEADERBOARD_REFRESH_MINUTES", default=30)
# Bootstrap rounds and seed of the confidence intervals.
LEADERBOARD_BOOTSTRAP_ROUNDS = env.int("LEADERBOARD_BOOTSTRAP_ROUNDS", default=100)
LEADERBOARD_SEED = env.int("LEADERBOARD_SEED", default=0)
# A model name whose rating is fixed (the engine's anchor value); empty: the ratings average 1000.
LEADERBOARD_ANCHOR = env("LEADERBOARD_ANCHOR", default="") or None
# Fewer counted battles than this make a model provisional (listed, not ranked); empty: the engine's default.
LEADERBOARD_MIN_BATTLES = env.int("LEADERBOARD_MIN_BATTLES", default=None)
# A topic or language gets its own leaderboard once it has this many counted battles.
LEADERBOARD_MIN_CATEGORY_BATTLES = env.int("LEADERBOARD_MIN_CATEGORY_BATTLES", default=30)
# Also compute style-controlled leaderboards (a pass over the answers' texts per leaderboard).
LEADERBOARD_STYLE_CONTROL = env.bool("LEADERBOARD_STYLE_CONTROL", default=True)
# How often an open page's websocket checks the database for a new snapshot; 0: never. Needed
# without Redis (the worker cannot reach the web process's in-memory groups), so off with Redis.
LEADERBOARD_LIVE_POLL_SECONDS = env.int("LEADERBOARD_LIVE_POLL_SECONDS", default=0 if REDIS_URL else 15)
