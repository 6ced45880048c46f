"""Settings: read once from ``PLUGBOARD_*`` environment variables, overridable per app.

Every setting has an embedded default so a newcomer's first run needs no services.
Production refuses to start with a default secret.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import limits

DEV_SECRET_KEY = "plugboard-dev-secret-key-change-me-0000000000"  # noqa: S105 - the known default production refuses
DEV_PUBLIC_URL = "http://127.0.0.1:8000"

ENVIRONMENTS = ("development", "test", "production")
RATE_LIMIT_CLASSES = ("auth", "public", "read", "write", "webhook")
MAX_JSON_DEPTH = 500
BUNDLE_DELIVERIES = ("direct", "redirect")


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting to fix."""


def _bool(value: str) -> bool:
    word = value.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    # A typo must not silently mean False (e.g. turn TLS off).
    raise ValueError(value)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclasses.dataclass(frozen=True)
class Settings:
    """All of Plugboard's settings. Field ``foo_bar`` reads ``PLUGBOARD_FOO_BAR``."""

    env: str = "development"
    data_dir: str = "./var"
    database_url: str = ""
    # psycopg prepares a statement on its fifth run on a connection; turn off behind a
    # PgBouncer (before 1.21) in transaction pooling mode
    database_prepared_statements: bool = True
    # a transaction-pooling proxy (PgBouncer pool_mode=transaction) between the app and
    # PostgreSQL: tenant settings per transaction, every read in a transaction
    database_transaction_pooling: bool = False
    # connections each process keeps, and may open on top under load (PostgreSQL); budget
    # (pool size + overflow) x processes within max_connections: docs/operations.md#capacity
    database_pool_size: int = 10
    database_max_overflow: int = 20
    # seconds a migration's DDL may wait for a table lock before the upgrade fails (and
    # rolls back) rather than stall every query behind it (PostgreSQL's lock_timeout)
    migration_lock_timeout: int = 10
    redis_url: str = ""
    redis_namespace: str = "plugboard"
    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "plugboard"
    s3_secure: bool = True
    s3_region: str = "us-east-1"
    # the S3 address browsers reach, for presigned URLs (empty: s3_endpoint)
    s3_public_endpoint: str = ""
    # bundle files: served by the app ("direct") or by a redirect to presigned storage URLs
    bundle_delivery: str = "direct"
    bundle_max_bytes: int = 20 * 1024 * 1024  # one upload (a zip or one file)
    bundle_max_files: int = 1000
    bundle_max_uncompressed: int = 100 * 1024 * 1024  # a zip's files, unpacked
    secret_key: str = DEV_SECRET_KEY
    base_domain: str = "localhost"
    smtp_url: str = ""
    mail_from: str = "Plugboard <no-reply@plugboard.local>"
    # the API's public address; empty: derived from each request (Host, behind trusted
    # proxies X-Forwarded-*), and DEV_PUBLIC_URL where there is no request (mail jobs, CLI)
    public_url: str = ""
    plugins_allow: tuple[str, ...] = ()
    plugins_deny: tuple[str, ...] = ()
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    password_reset_ttl: int = 3600
    email_verify_ttl: int = 3 * 24 * 3600
    max_content_length: int = 1024 * 1024
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_failure_window: int = 900
    # argon2id cost; the defaults are RFC 9106's "second recommended" option.
    password_time_cost: int = 3
    password_memory_cost: int = 65536
    password_parallelism: int = 4
    tenant_cache_ttl: int = 30
    # how many reverse proxies in front of the app set X-Forwarded-* (0: trust none)
    trusted_proxies: int = 0
    log_level: str = "INFO"
    # request pipeline: JSON bodies nested deeper are refused (400), far below Python's
    # recursion limit
    json_max_depth: int = 64
    # rate limits (``limits`` notation, several separated by ";"), per API key, user or
    # client IP and route class; PLUGBOARD_RATE_LIMITS=off switches them all off
    rate_limits: bool = True
    rate_limit_auth: str = "60/minute"  # /api/v1/auth/…, storefront account logins
    rate_limit_public: str = "600/minute"  # storefront reads, bundle files
    rate_limit_read: str = "1200/minute"  # authenticated reads
    rate_limit_write: str = "300/minute"  # every other POST, PUT, PATCH, DELETE
    rate_limit_webhook: str = "1200/minute"  # /api/v1/webhooks/…

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Build settings from ``environ`` (default: ``os.environ``), then ``overrides``.

        Unknown override keys raise, so a typo never silently does nothing.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, field in fields.items():
            raw = environ.get(f"PLUGBOARD_{name.upper()}")
            if raw is None:
                continue
            values[name] = _parse(name, field.type, raw)
        for key, value in (overrides or {}).items():
            name = key.lower().removeprefix("plugboard_")
            if name not in fields:
                known = ", ".join(sorted(fields))
                raise ConfigError(f"Unknown setting {key!r}. Known settings: {known}.")
            # Keys may be variable names, so their values may be strings like the variables'.
            values[name] = _parse(name, fields[name].type, value) if isinstance(value, str) else value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(
                f"PLUGBOARD_ENV={self.env!r} is not one of {', '.join(ENVIRONMENTS)}."
            )
        if self.bundle_delivery not in BUNDLE_DELIVERIES:
            raise ConfigError(
                f"PLUGBOARD_BUNDLE_DELIVERY={self.bundle_delivery!r} is not one of "
                f"{', '.join(BUNDLE_DELIVERIES)}."
            )
        if not 1 <= self.json_max_depth <= MAX_JSON_DEPTH:
            raise ConfigError(
                f"PLUGBOARD_JSON_MAX_DEPTH={self.json_max_depth} must be between 1 and "
                f"{MAX_JSON_DEPTH} (Python's parser fails near 1,000)."
            )
        for name in RATE_LIMIT_CLASSES:
            value = getattr(self, f"rate_limit_{name}")
            try:
                limits.parse_many(value)
            except ValueError:
                raise ConfigError(
                    f"PLUGBOARD_RATE_LIMIT_{name.upper()}={value!r} is not a rate limit; write "
                    "e.g. '600/minute' or '10/second;600/minute'."
                ) from None
        if self.env == "production":
            if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
                raise ConfigError(
                    "PLUGBOARD_SECRET_KEY is the development default or shorter than 32 "
                    "characters; production refuses to start with it. Generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
                )
            if self.public_url and not self.public_url.startswith(("https://", "http://")):
                raise ConfigError(
                    f"PLUGBOARD_PUBLIC_URL={self.public_url!r} must be an absolute URL, e.g. "
                    "https://api.example.com."
                )
            if not self.database_url:
                raise ConfigError(
                    "PLUGBOARD_DATABASE_URL is not set; production needs PostgreSQL, e.g. "
                    "postgresql+psycopg://plugboard:…@db:5432/plugboard."
                )

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_path / 'plugboard.db').resolve()}"

    @property
    def public_url_or_default(self) -> str:
        """The configured public URL, else the development address (outside requests)."""
        return (self.public_url or DEV_PUBLIC_URL).rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _parse(name: str, type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    try:
        if kind == "bool":
            return _bool(raw)
        if kind == "int":
            return int(raw)
        if kind.startswith("tuple"):
            return _csv(raw)
    except ValueError as exc:
        raise ConfigError(
            f"PLUGBOARD_{name.upper()}={raw!r} is not a valid {kind}"
            + (" (use true/false, yes/no, on/off or 1/0)." if kind == "bool" else ".")
        ) from exc
    return raw
