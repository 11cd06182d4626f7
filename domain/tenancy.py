"""Tenants (issue 7): every aggregate belongs to a company — the tenant, the issuer of its documents.

References are unique per company and identifiers derive from (company, reference). The default company,
``default``, serves single-tenant use: its identifiers derive from the reference alone, exactly as before
tenants existed, so a store written then reads the same now.
"""

from __future__ import annotations

from uuid import UUID

from domain.base import derive_id
from domain.text import validate_reference

#: The company of every command that names none (``--company``, ``BILLING_COMPANY``).
DEFAULT_COMPANY = "default"


def validate_company(company: object) -> str:
    """A company reference: 1–100 printable characters (:func:`domain.text.validate_reference`)."""
    return validate_reference(company, "company")


def scoped_id(kind: str, company: str, *parts: object) -> UUID:
    """The id of the ``kind`` entity of ``company`` named by ``parts``: ``derive_id(kind, *parts)`` for the
    default company, ``derive_id(kind, company, *parts)`` for any other."""
    if company == DEFAULT_COMPANY:
        return derive_id(kind, *parts)
    return derive_id(kind, company, *parts)
