"""How report queries render values: ISO 8601 dates and instants, amounts with the currency's decimals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.money import format_amount


def _iso(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v


def _money(v: Decimal | None, currency: str) -> str | None:
    return None if v is None else format_amount(Decimal(v), currency)
