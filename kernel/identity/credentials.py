"""Cryptographic primitives: password hashing, opaque tokens, JWTs, secret encryption.

Everything derives from ``PLUGBOARD_SECRET_KEY`` through HKDF with a distinct label per
use, so a token-signing key can never decrypt a plugin secret and vice versa.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kernel.config import Settings

JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "pbk_"
# Verified access tokens remembered per process (one per active client session, roughly).
VERIFIED_TOKENS_CACHED = 10_000


def derive_key(secret: str, label: str, length: int = 32) -> bytes:
    """A sub-key of ``secret`` for one purpose (``label``)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"plugboard", info=label.encode()
    ).derive(secret.encode())


def token_digest(token: str) -> str:
    """SHA-256 of a high-entropy token; safe to store, useless to a thief."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def same(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a.encode(), b.encode())


class Passwords:
    """argon2id hashing with the configured cost."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_time_cost,
            memory_cost=settings.password_memory_cost,
            parallelism=settings.password_parallelism,
        )
        # Verifying against this keeps unknown-account logins as slow as real ones.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID | None
    role: str | None
    platform_admin: bool


class Tokens:
    """Signs and checks JWT access tokens."""

    def __init__(self, settings: Settings) -> None:
        self._key = derive_key(settings.secret_key, "jwt-access")
        self._ttl = settings.access_token_ttl
        self.ttl = settings.access_token_ttl
        self._verified: dict[str, tuple[AccessClaims, float]] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID | None,
        role: str | None,
        platform_admin: bool = False,
        now: dt.datetime | None = None,
    ) -> str:
        now = now or dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "tid": str(tenant_id) if tenant_id else None,
            "role": role,
            "padm": platform_admin,
            "typ": "access",
            "iat": now,
            "exp": now + dt.timedelta(seconds=self._ttl),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)

    def check(self, token: str) -> AccessClaims:
        """Decode and verify; raises ``jwt.InvalidTokenError`` when anything is off.

        A token that verified before is answered from a bounded in-process cache until
        its ``exp``: a client sends the same token on every request for its lifetime, and
        decoding it again (base64, JSON, HMAC, claim checks) is the costliest part of
        authenticating it. The cache holds only tokens this process verified, keyed by the
        whole token, so a changed byte, a new key or an expired token never hits it; what
        a token grants is still checked live on each request (tenant active, membership).
        """
        hit = self._verified.get(token)
        if hit is not None and time.time() < hit[1]:
            return hit[0]
        claims, exp = self._decode(token)
        with self._lock:
            if len(self._verified) >= VERIFIED_TOKENS_CACHED:
                self._verified.pop(next(iter(self._verified)))  # the oldest entry
            self._verified[token] = (claims, exp)
        return claims

    def _decode(self, token: str) -> tuple[AccessClaims, float]:
        claims = jwt.decode(
            token,
            self._key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", "sub", "typ"]},
        )
        if claims.get("typ") != "access":
            raise jwt.InvalidTokenError("not an access token")
        try:
            tid = uuid.UUID(claims["tid"]) if claims.get("tid") else None
            access = AccessClaims(uuid.UUID(claims["sub"]), tid, claims.get("role"), bool(claims.get("padm")))
            return access, float(claims["exp"])
        except (ValueError, TypeError) as exc:
            raise jwt.InvalidTokenError("malformed claims") from exc


class SecretBox:
    """Symmetric encryption for secrets at rest (plugin config secret fields)."""

    def __init__(self, settings: Settings) -> None:
        key = base64.urlsafe_b64encode(derive_key(settings.secret_key, "plugin-secrets"))
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with the current secret key") from exc


def new_api_key() -> tuple[str, str, str]:
    """``(full key, prefix, digest)``; only the prefix and digest are stored."""
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, token_digest(key)


def split_api_key(key: str) -> str | None:
    """The lookup prefix of a ``pbk_<prefix>_<secret>`` key, or None if malformed."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, rest = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 8 or not rest:
        return None
    return prefix


# Keys whose values never reach a log line, whatever their nesting.
SECRET_KEYS = re.compile(r"pass(word)?|secret|token|authorization|api[_-]?key|cookie", re.I)
BEARER_RE = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
API_KEY_RE = re.compile(r"pbk_[0-9a-f]{8}_[A-Za-z0-9_-]+")
# One search tells whether either substitution below can match; most strings need neither.
SECRETISH_RE = re.compile(r"pbk_|bearer", re.I)


def redact(value: Any) -> Any:
    """``value`` with secrets masked: secret-named keys, bearer tokens, API keys (logs, audit)."""
    if isinstance(value, dict):
        return {k: "[redacted]" if SECRET_KEYS.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        if not SECRETISH_RE.search(value):
            return value
        return API_KEY_RE.sub("pbk_[redacted]", BEARER_RE.sub(r"\1[redacted]", value))
    return value
