"""The ApiKey aggregate (issue 7): a company's key to the HTTP API, stored hashed.

A key reads ``bk_<key id>_<secret>``. The key id (12 hex digits) names the aggregate; only the SHA-256 of
the secret is stored (the secret is random, 32 URL-safe characters, so a fast hash is as good as a slow
one), and it is shown once, when the key is created. A key belongs to one company and sees only that
company's resources; an ``admin`` key may also tick, rebuild projections and manage keys. A revoked key
opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from uuid import UUID

from domain.base import BillingAggregate, derive_id
from domain.errors import Conflict, ValidationError
from domain.tenancy import validate_company
from domain.text import validate_text

KEY = re.compile(r"bk_([0-9a-f]{12})_([A-Za-z0-9_-]{32})")


def api_key_id(key_id: str) -> UUID:
    return derive_id("api-key", key_id)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_key(token: str) -> tuple[str, str] | None:
    """``(key id, secret)`` of a well-formed key, else None."""
    m = KEY.fullmatch(token.strip()) if isinstance(token, str) else None
    return (m.group(1), m.group(2)) if m else None


class ApiKey(BillingAggregate):
    """An API key (see the module docstring)."""

    TOPIC = "billing:ApiKey"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:ApiKey.Created"
        key_id: str
        company: str
        admin: bool
        secret_sha256: str
        label: str

    class Revoked(BillingAggregate.Event):
        TOPIC = "billing:ApiKey.Revoked"

        def apply(self, key: ApiKey) -> None:
            key.revoked = True

    def __init__(self, key_id: str, company: str, admin: bool, secret_sha256: str, label: str):
        self.key_id = key_id
        self.company = company
        self.admin = admin
        self.secret_sha256 = secret_sha256
        self.label = label
        self.revoked = False

    def describe(self) -> str:
        return f"API key {self.key_id}"

    @classmethod
    def issue(cls, key_id: str, secret: str, company: str, admin: bool = False, label: str = "") -> ApiKey:
        """A new key for ``company`` (``key_id`` and ``secret`` drawn at the edge)."""
        if not re.fullmatch(r"[0-9a-f]{12}", key_id) or not re.fullmatch(r"[A-Za-z0-9_-]{32}", secret):
            raise ValidationError("key", "a key id is 12 hex digits and a secret 32 URL-safe characters")
        validate_company(company)
        return cls._create_with_id(cls.Created, api_key_id(key_id), key_id=key_id, company=company, admin=bool(admin),
                                   secret_sha256=secret_hash(secret), label=validate_text(label, "label", 100))

    def opens_with(self, secret: str) -> bool:
        """True if ``secret`` is this key's and the key is not revoked (constant-time comparison)."""
        return not self.revoked and hmac.compare_digest(self.secret_sha256, secret_hash(secret))

    def revoke(self) -> bool:
        """Revoke the key; False if it already was."""
        if self.revoked:
            return False
        self.trigger_event(self.Revoked)
        return True

    def check_company(self, company: str) -> None:
        if company != self.company:
            raise Conflict("key", f"key {self.key_id} belongs to another company")
