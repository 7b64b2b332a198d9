"""Django settings, read from the environment.

Every variable has a default that runs local mode on a clean checkout. AWS-only
variables are read, and required, only when AUTOML_BACKEND=aws. Bad values stop
start-up with ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from training_image import contract as _contract
from training_image import costs as _costs

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _secret(name: str, default: str | None = None) -> str | None:
    """A secret setting: `NAME_FILE` (a file's contents: container secrets), `NAME`, or
    `NAME_SECRET_ARN` (a Secrets Manager secret, read once at start-up: the template's
    Lambda functions get only the ARN, so the value is never in their plain environment).
    """
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc}") from exc
    if os.environ.get(name):
        return os.environ[name]
    arn = os.environ.get(f"{name}_SECRET_ARN", "").strip()
    if arn:
        return _secrets_manager_value(f"{name}_SECRET_ARN", arn)
    return default


def _secrets_manager_value(variable: str, arn: str) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    client = boto3.client(
        "secretsmanager", region_name=region, endpoint_url=os.environ.get("AWS_ENDPOINT_URL")
    )
    try:
        value = client.get_secret_value(SecretId=arn).get("SecretString")
    except (BotoCoreError, ClientError) as exc:
        raise ImproperlyConfigured(f"{variable}: cannot read the secret {arn}: {exc}") from exc
    if not value:
        raise ImproperlyConfigured(f"{variable}: the secret {arn} has no string value")
    return value.strip()


def _int(name: str, default: int, *, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(name: str, default: float, *, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


AUTOML_BACKEND = os.environ.get("AUTOML_BACKEND", "local").strip().lower()
if AUTOML_BACKEND not in {"local", "aws"}:
    raise ImproperlyConfigured(f"AUTOML_BACKEND must be 'local' or 'aws', got {AUTOML_BACKEND!r}")
IS_AWS = AUTOML_BACKEND == "aws"

VAR_DIR = Path(os.environ.get("AUTOML_VAR_DIR", BASE_DIR / "var")).resolve()
if not IS_AWS:
    # Local mode keeps its SQLite files and media here; a clean checkout has none yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)

# Off by default in both modes: users see the product's own error pages, not tracebacks.
DEBUG = _bool("DJANGO_DEBUG", False)
SECRET_KEY = _secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if IS_AWS:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE or DJANGO_SECRET_KEY_SECRET_ARN) is "
            "required"
        )
    SECRET_KEY = "local-mode-only-not-secret"  # local single-user mode
# `testserver` (Django's test client) is added by the test set-up only (tests/conftest.py).
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
if _bool("AUTOML_ALLOW_TASK_IP", False):
    # ECS web tasks: the load balancer's health check names the task's own address.
    from automl_lite.ecs_metadata import task_addresses

    ALLOWED_HOSTS = [*ALLOWED_HOSTS, *task_addresses()]
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = env.list("AUTOML_CORS_ALLOWED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "core",
    "datasets",
    "jobs",
    # Login throttling: failed sign-ins per username + address (see AXES_* below).
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.LocalAutoLoginMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "automl_lite.urls"
WSGI_APPLICATION = "automl_lite.wsgi.application"

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
                "core.context_processors.product",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url_config(
        _secret("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'django.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes first: it refuses a sign-in (login page, admin) for a locked-out username +
# address before the password is checked. Token and local auto sign-in never call
# authenticate(), so they are not throttled.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _int("AUTOML_LOGIN_FAILURE_LIMIT", 5, low=1, high=1000)
AXES_COOLOFF_TIME = dt.timedelta(
    minutes=_int("AUTOML_LOGIN_LOCKOUT_MINUTES", 15, low=1, high=7 * 24 * 60)
)
# Lock the username from that address only: someone else failing cannot lock you out
# everywhere. Unlock: the admin's "Access attempts" (delete), or `manage.py axes_reset`.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.lockout.lockout_response"
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "datasets:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Local mode serves static files straight from the apps' folders (no collectstatic step).
WHITENOISE_USE_FINDERS = not IS_AWS
STATICFILES_DIRS = [BASE_DIR / "static"]

# --------------------------------------------------------------------------- AutoML settings

# Local mode may sign in one local user automatically, only for requests from 127.0.0.1.
AUTOML_LOCAL_AUTO_LOGIN = _bool("AUTOML_LOCAL_AUTO_LOGIN", not IS_AWS)
if IS_AWS and AUTOML_LOCAL_AUTO_LOGIN:
    raise ImproperlyConfigured("AUTOML_LOCAL_AUTO_LOGIN cannot be enabled in AWS mode")
AUTOML_LOCAL_USERNAME = os.environ.get("AUTOML_LOCAL_USERNAME", "local")

AUTOML_MAX_UPLOAD_BYTES = _int("AUTOML_MAX_UPLOAD_BYTES", 1024**3, low=1, high=50 * 1024**3)
# Batch scoring of an uploaded CSV (results page, POST /api/jobs/{id}/predictions).
AUTOML_MAX_PREDICT_BYTES = _int("AUTOML_MAX_PREDICT_BYTES", 100 * 1024**2, low=1, high=50 * 1024**3)
AUTOML_MAX_PREDICT_ROWS = _int("AUTOML_MAX_PREDICT_ROWS", 1_000_000, low=1, high=1_000_000_000)
AUTOML_LOCAL_CONCURRENCY = _int("AUTOML_LOCAL_CONCURRENCY", 1, low=1, high=64)
AUTOML_SEED = _int("AUTOML_SEED", 42, low=0, high=2**31 - 1)
AUTOML_MAX_ATTEMPTS = _int("AUTOML_MAX_ATTEMPTS", 3, low=1, high=10)
# SQS delivers a task message this many times before dead-lettering it: the task queue's
# `maxReceiveCount` in deploy/automl-lite.yaml. On the last receive a failing task marks its
# dataset or job failed (core/task_base.py).
AUTOML_TASK_MAX_RECEIVES = _int("AUTOML_TASK_MAX_RECEIVES", 5, low=1, high=1000)
# Smallest search budget a user may ask for (the product floor; tests lower it to train in seconds).
AUTOML_MIN_TIME_BUDGET = _int(
    "AUTOML_MIN_TIME_BUDGET", _contract.MIN_TIME_BUDGET, low=1, high=_contract.MAX_TIME_BUDGET
)
# What a run costs on AWS Fargate Spot (training_image/costs.py holds the defaults): the
# prices per vCPU-second and GB-second, and the training task's size.
AUTOML_FARGATE_SPOT_VCPU_SECOND_USD = _float(
    "AUTOML_FARGATE_SPOT_VCPU_SECOND_USD", _costs.VCPU_SECOND_USD, low=0, high=1
)
AUTOML_FARGATE_SPOT_GB_SECOND_USD = _float(
    "AUTOML_FARGATE_SPOT_GB_SECOND_USD", _costs.GB_SECOND_USD, low=0, high=1
)
AUTOML_TRAINING_VCPUS = _float("AUTOML_TRAINING_VCPUS", _costs.TASK_VCPUS, low=0.25, high=16)
AUTOML_TRAINING_MEMORY_GB = _float(
    "AUTOML_TRAINING_MEMORY_GB", _costs.TASK_MEMORY_GB, low=0.5, high=120
)
# A running job whose heartbeat is older than this is failed by reconciliation.
AUTOML_HEARTBEAT_TIMEOUT = _int("AUTOML_HEARTBEAT_TIMEOUT", 300, low=30, high=86_400)
# Uploads never confirmed (`uploading`) are deleted, with any partial file, after this many
# seconds without change (beat's `purge_abandoned_uploads`, `manage.py purge_datasets`).
AUTOML_UPLOAD_ABANDON_AFTER = _int(
    "AUTOML_UPLOAD_ABANDON_AFTER", 24 * 3600, low=60, high=365 * 86_400
)
AUTOML_PRESIGNED_TTL = _int("AUTOML_PRESIGNED_TTL", 3600, low=60, high=7 * 86_400)
AUTOML_MODEL_CACHE_SIZE = _int("AUTOML_MODEL_CACHE_SIZE", 8, low=1, high=256)

# Records (datasets, jobs) live behind the repository layer, not in Django's ORM.
AUTOML_RECORDS_PATH = Path(os.environ.get("AUTOML_RECORDS_PATH", VAR_DIR / "records.sqlite3"))
MEDIA_ROOT = Path(os.environ.get("AUTOML_MEDIA_ROOT", VAR_DIR / "media"))

if IS_AWS:
    AWS_REGION = env.str("AWS_REGION", default=os.environ.get("AWS_DEFAULT_REGION", ""))
    if not AWS_REGION:
        raise ImproperlyConfigured("AWS_REGION is required in AWS mode")
    AWS_ENDPOINT_URL = os.environ.get("AWS_ENDPOINT_URL") or None
    # Presigned URLs name the bucket's regional host (`<bucket>.s3.<region>.amazonaws.com`):
    # a new bucket answers the global host with a 307 outside us-east-1, and a browser's CORS
    # preflight cannot follow a redirect. A local endpoint (moto) takes paths instead.
    AWS_S3_ADDRESSING_STYLE = "path" if AWS_ENDPOINT_URL else "virtual"

    def _required(name: str) -> str:
        value = os.environ.get(name, "").strip()
        if not value:
            raise ImproperlyConfigured(f"{name} is required when AUTOML_BACKEND=aws")
        return value

    AUTOML_DATASETS_BUCKET = _required("AUTOML_DATASETS_BUCKET")
    AUTOML_MODELS_BUCKET = _required("AUTOML_MODELS_BUCKET")
    AUTOML_REPORTS_BUCKET = _required("AUTOML_REPORTS_BUCKET")
    AUTOML_DATASETS_TABLE = _required("AUTOML_DATASETS_TABLE")
    AUTOML_JOBS_TABLE = _required("AUTOML_JOBS_TABLE")
    AUTOML_BATCHES_TABLE = _required("AUTOML_BATCHES_TABLE")
    AUTOML_BATCH_JOB_QUEUE = _required("AUTOML_BATCH_JOB_QUEUE")
    AUTOML_BATCH_JOB_DEFINITION = _required("AUTOML_BATCH_JOB_DEFINITION")

    def _s3(bucket: str) -> dict:
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "region_name": AWS_REGION,
                "endpoint_url": AWS_ENDPOINT_URL,
                "addressing_style": AWS_S3_ADDRESSING_STYLE,
                "querystring_expire": AUTOML_PRESIGNED_TTL,
                "file_overwrite": True,
                "default_acl": None,
                "signature_version": "s3v4",
            },
        }

    STORAGES = {
        "default": _s3(AUTOML_DATASETS_BUCKET),
        "datasets": _s3(AUTOML_DATASETS_BUCKET),
        "models": _s3(AUTOML_MODELS_BUCKET),
        "reports": _s3(AUTOML_REPORTS_BUCKET),
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "sqs://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "region": AWS_REGION,
        "predefined_queues": {}
        if not os.environ.get("AUTOML_SQS_QUEUE_URL")
        else {"celery": {"url": os.environ["AUTOML_SQS_QUEUE_URL"]}},
    }
else:
    AWS_REGION = os.environ.get("AWS_REGION", "local")

    def _folder(name: str) -> dict:
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT / name, "base_url": f"/media/{name}/"},
        }

    STORAGES = {
        "default": _folder("default"),
        "datasets": _folder("datasets"),
        "models": _folder("models"),
        "reports": _folder("reports"),
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }
    # Embedded broker: a SQLite file through kombu's SQLAlchemy transport, no server.
    CELERY_BROKER_URL = os.environ.get(
        "CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}"
    )

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ALWAYS_EAGER = _bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = CELERY_TASK_ALWAYS_EAGER
CELERY_TASK_ROUTES = {"jobs.tasks.run_training": {"queue": "training"}}
CELERY_BEAT_SCHEDULE = {
    "reconcile-jobs": {"task": "jobs.tasks.reconcile_jobs", "schedule": 60.0},
    "purge-abandoned-uploads": {
        "task": "datasets.tasks.purge_abandoned_uploads",
        "schedule": 3600.0,
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
# Uploads above this go to a temporary file, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024**2
FILE_UPLOAD_TEMP_DIR = os.environ.get("AUTOML_UPLOAD_TMP_DIR") or None

# Presigned links are cached per window so a job's ETag holds between polls (jobs/presigned.py).
# One process keeps its own; with several web processes (Lambda, ECS tasks) point CACHE_URL at a
# shared cache (e.g. redis://host:6379/1 or dbcache://automl_cache) so every process agrees.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# Run emails (opt-in per user): printed to the console locally; SMTP in AWS mode (for SES:
# EMAIL_HOST=email-smtp.<region>.amazonaws.com, port 587, TLS, the SES SMTP credentials).
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if IS_AWS
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _int("EMAIL_PORT", 587, low=1, high=65535)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _secret("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = _bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = _int("EMAIL_TIMEOUT", 10, low=1, high=120)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "AutoML Lite <automl@localhost>")
# The address run emails link to (the web's public URL).
AUTOML_SITE_URL = os.environ.get("AUTOML_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Finished runs older than this are not emailed any more (a late sweep stays quiet).
AUTOML_NOTIFY_WINDOW_HOURS = _int("AUTOML_NOTIFY_WINDOW_HOURS", 24, low=1, high=24 * 30)

REST_FRAMEWORK = {
    # Token first: its `WWW-Authenticate` header makes a missing login a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "core.authentication.LocalUserAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AutoML Lite API",
    "DESCRIPTION": "Upload a CSV, train a model, read its metrics and predict.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The local-user class takes no credentials, so it is no security scheme of the schema.
    "AUTHENTICATION_WHITELIST": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("AUTOML_LOG_LEVEL", "INFO")},
}

if IS_AWS:
    SESSION_COOKIE_SECURE = _bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Where sessions live. In AWS mode every HTMX poll (every 2 s per open page) would otherwise
# read the session row from PostgreSQL, which keeps a scale-to-zero database awake: sessions are
# signed cookies there (HttpOnly, Secure, signed with the SECRET_KEY kept in Secrets Manager;
# they hold only the login, and a password change still ends every session through Django's
# session auth hash). With a shared cache (CACHE_URL on Redis) `cache` sessions are the other
# choice. Local mode keeps database sessions.
SESSION_ENGINE = env.str(
    "DJANGO_SESSION_ENGINE",
    default="django.contrib.sessions.backends.signed_cookies"
    if IS_AWS
    else "django.contrib.sessions.backends.db",
)
SESSION_COOKIE_HTTPONLY = True
if SESSION_ENGINE.rsplit(".", 1)[-1] not in {"db", "cache", "cached_db", "signed_cookies", "file"}:
    raise ImproperlyConfigured(f"DJANGO_SESSION_ENGINE: unknown session engine {SESSION_ENGINE!r}")
