"""Queries over the companies read model (issue 7): companies, their tax rates and number formats."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from domain.calendar import MIN_DATE
from domain.number_formats import DEFAULT_FORMATS
from domain.tax import CATALOGUE
from projections.query_values import _iso
from projections.tables import api_keys, companies, company_number_formats, company_tax_rates


def _pct(v: Any) -> str:
    d = Decimal(v).normalize()
    return format(d, "f")


def list_companies(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every company with settings, by reference."""
    with engine.connect() as conn:
        return [{"company": r.company, "name": r.name, "timezone": r.timezone, "currency": r.currency}
                for r in conn.execute(sa.select(companies).order_by(companies.c.company))]


def _company_id(conn: sa.Connection, company: str) -> str | None:
    return conn.execute(sa.select(companies.c.company_id).where(companies.c.company == company)).scalar()


def list_tax_rates(engine: sa.Engine, company: str, on: date | None = None) -> list[dict[str, Any]]:
    """``company``'s tax rates: every version with the date it is in force from (the engine's defaults from
    1900-01-01), or with ``on`` the catalogue in force that day; by name, then date."""
    rows = [{"name": r.name, "percent": _pct(r.percent), "effective_from": MIN_DATE} for r in CATALOGUE.values()]
    with engine.connect() as conn:
        cid = _company_id(conn, company)
        if cid is not None:
            t = company_tax_rates
            rows += [{"name": r.name, "percent": _pct(r.percent), "effective_from": r.effective_from}
                     for r in conn.execute(sa.select(t).where(t.c.company_id == cid))]
    rows.sort(key=lambda r: (r["name"], r["effective_from"]))
    if on is not None:
        latest: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["effective_from"] <= on:
                latest[r["name"]] = r
        rows = sorted(latest.values(), key=lambda r: r["name"])
    return [{**r, "effective_from": _iso(r["effective_from"])} for r in rows]


def show_company(engine: sa.Engine, company: str) -> dict[str, Any]:
    """``company``'s settings, tax rates and number formats (the defaults for a company never set)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(companies).where(companies.c.company == company)).first()
        formats = []
        if row is not None:
            f = company_number_formats
            formats = [{"kind": r.kind, "prefix": r.prefix, "width": r.width, "effective_at": _iso(r.effective_at)}
                       for r in conn.execute(sa.select(f).where(f.c.company_id == row.company_id).order_by(f.c.kind, f.c.effective_at))]
    defaults = [{"kind": k, "prefix": v.prefix, "width": v.width, "effective_at": None} for k, v in DEFAULT_FORMATS.items()]
    return {
        "company": company,
        "name": row.name if row else company,
        "timezone": row.timezone if row else "UTC",
        "currency": row.currency if row else None,
        "number_formats": defaults + formats,
        "tax_rates": list_tax_rates(engine, company),
    }


def list_api_keys(engine: sa.Engine, company: str | None) -> list[dict[str, Any]]:
    """API keys (never their secrets) of ``company`` (None: every company), oldest first."""
    stmt = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
    if company is not None:
        stmt = stmt.where(api_keys.c.company == company)
    with engine.connect() as conn:
        return [{"key_id": r.key_id, "company": r.company, "admin": r.admin, "label": r.label,
                 "created_at": _iso(r.created_at), "revoked_at": _iso(r.revoked_at)} for r in conn.execute(stmt)]
