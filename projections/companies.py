"""Read model of companies (issue 7): each tenant's settings, its tax rates and number formats with the
date or instant they take effect from."""

from __future__ import annotations

from typing import Any

from projections.runner import Projection
from projections.tables import api_keys, companies, company_number_formats, company_tax_rates
from projections.writer import Writer

CO = "billing:Company."

companies_projection = Projection(
    "companies", [companies, company_tax_rates, company_number_formats, api_keys],
    description="companies (tenants), their tax rates and number formats (each with when it takes effect), API keys",
    version=3,
)
AK = "billing:ApiKey."


@companies_projection.on(CO + "Created")
def _created(e: Any, w: Writer) -> None:
    w.insert(companies, {"company_id": str(e.originator_id), "company": e.reference, "name": e.name, "timezone": e.timezone, "currency": e.currency,
                         "timesheet_units": None, "created_at": e.timestamp, "updated_at": e.timestamp})


@companies_projection.on(CO + "Updated")
def _updated(e: Any, w: Writer) -> None:
    w.update(companies, {"company_id": str(e.originator_id)}, {**e.changes, "updated_at": e.timestamp})


@companies_projection.on(CO + "TaxRateAdded")
def _tax_rate(e: Any, w: Writer) -> None:
    w.insert(company_tax_rates, {"company_id": str(e.originator_id), "name": e.name, "effective_from": e.effective_from, "percent": e.percent})


@companies_projection.on(CO + "NumberFormatSet")
def _format(e: Any, w: Writer) -> None:
    w.insert(company_number_formats, {"company_id": str(e.originator_id), "kind": e.kind, "effective_at": e.effective_at,
                                      "prefix": e.prefix, "width": e.width})


@companies_projection.on(AK + "Created")
def _key_created(e: Any, w: Writer) -> None:
    w.insert(api_keys, {"api_key_id": str(e.originator_id), "key_id": e.key_id, "company": e.company, "admin": e.admin,
                        "label": e.label, "created_at": e.timestamp, "revoked_at": None})


@companies_projection.on(AK + "Revoked")
def _key_revoked(e: Any, w: Writer) -> None:
    w.update(api_keys, {"api_key_id": str(e.originator_id)}, {"revoked_at": e.timestamp})
