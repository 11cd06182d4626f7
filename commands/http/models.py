"""Request bodies and parameters shared by the routes of the HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Query
from pydantic import BaseModel, ConfigDict, Field

#: ``limit`` of a list: 1-1000 rows a page, 100 by default.
LIMIT = Query(100, ge=1, le=1000)
#: A CSV request body (``Content-Type: text/csv``), for the imports.
CSV = Body(..., media_type="text/csv")


def optional_date(text: str | None, field: str) -> Any:
    """``text`` as an ISO 8601 date (None stays None); :class:`ValidationError` naming ``field``."""
    from domain.calendar import parse_date

    return None if text is None else parse_date(text, field)
AT = Field(default=None, description="The command's business instant, ISO 8601 with offset (default: the server's clock)")


class Strict(BaseModel):
    """A body that refuses fields it does not know (a typo is a 422, not silently ignored) and values of another
    JSON type (strict: `true` or `3.0` is not a number of installments, `5` not an amount written as text)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class AtIn(Strict):
    at: str | None = AT


class PaymentIn(Strict):
    amount: str | None = Field(default=None, description="Decimal string in the document's currency; default: the open balance")
    reference: str = ""
    at: str | None = AT
