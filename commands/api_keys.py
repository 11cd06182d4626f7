"""API keys (issue 7): create (the key is drawn at the edge and shown once), revoke, authenticate."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commands.bus import UnitOfWork, handle, handler
from domain.api_key import ApiKey, api_key_id, parse_key
from domain.errors import NotFound
from domain.tenancy import validate_company


@dataclass(frozen=True)
class CreateApiKey:
    """Record key ``bk_<key_id>_<secret>`` for ``company`` (only the secret's hash is stored)."""

    company: str
    key_id: str
    secret: str
    at: datetime
    admin: bool = False
    label: str = ""


@dataclass(frozen=True)
class RevokeApiKey:
    """Revoke key ``key_id`` of ``company``."""

    key_id: str
    at: datetime
    company: str


@handler(CreateApiKey)
def _create(cmd: CreateApiKey, uow: UnitOfWork) -> str:
    validate_company(cmd.company)
    uow.add(ApiKey.issue(cmd.key_id, cmd.secret, cmd.company, cmd.admin, cmd.label))
    return f"bk_{cmd.key_id}_{cmd.secret}"


@handler(RevokeApiKey)
def _revoke(cmd: RevokeApiKey, uow: UnitOfWork) -> bool:
    key = uow.get(api_key_id(cmd.key_id)) if len(cmd.key_id) == 12 else None
    if not isinstance(key, ApiKey) or key.company != cmd.company:
        raise NotFound("key_id", f"no API key {cmd.key_id!r}")
    return key.revoke()


def new_key(store: Any, company: str, at: datetime, admin: bool = False, label: str = "") -> str:
    """Draw a new key for ``company`` (at the edge: the only randomness of the engine) and record it;
    returns the key, which is never shown again."""
    key_id = secrets.token_hex(6)  # edge
    secret = secrets.token_urlsafe(24)[:32].ljust(32, "0")  # edge
    return handle(store, CreateApiKey(company, key_id, secret, at, admin, label))


def authenticate(store: Any, token: str) -> ApiKey | None:
    """The key ``token`` opens (not revoked), or None."""
    parsed = parse_key(token)
    if parsed is None:
        return None
    key = store.get(api_key_id(parsed[0]))
    return key if isinstance(key, ApiKey) and key.opens_with(parsed[1]) else None
