"""Read models of issue 3: contracts, their positions and run history (the documents are in
:mod:`projections.documents`)."""

from __future__ import annotations

from typing import Any

from projections.runner import Projection
from projections.writer import Writer
from projections.tables import contract_positions, contract_runs, contracts

CT = "billing:Contract."
IV = "billing:Invoice."


def _sid(v: Any) -> str | None:
    return None if v is None else str(v)


# =========================================================================================== contracts
contracts_projection = Projection(
    "contracts",
    [contracts, contract_positions, contract_runs],
    description="contracts, their positions, and the audit trail of their runs",
    version=3,
)


def _position_row(contract_id: str, p: dict) -> dict:
    return {
        "contract_id": contract_id,
        "position": p["position"],
        "description": p["description"],
        "quantity": p["quantity"],
        "unit_price": p["unit_price"],
        "tax_rate": p["tax_rate"],
        "tax_percent": p["tax_percent"],
        "discountable": p["discountable"],
        "attributes": p["attributes"],
    }


@contracts_projection.on(CT + "Created")
def _contract_created(e: Any, w: Writer) -> None:
    cid = str(e.originator_id)
    w.insert(
        contracts,
        {
            "contract_id": cid,
            "reference": e.reference,
            "company": e.company,
            "customer_id": str(e.customer_id),
            "customer_reference": e.customer_reference,
            "name": e.name,
            "currency": e.currency,
            "interval": e.interval,
            "start_date": e.start_date,
            "end_date": e.end_date,
            "next_run_date": e.next_run_date,
            "last_run_date": None,
            "active": True,
            "parked": None,
            "payment_terms_days": e.payment_terms_days,
            "auto_finalize": e.auto_finalize,
            "auto_send": e.auto_send,
            "created_at": e.timestamp,
            "updated_at": e.timestamp,
        },
    )
    for p in e.positions:
        w.insert(contract_positions, _position_row(cid, p))


@contracts_projection.on(CT + "Updated")
def _contract_updated(e: Any, w: Writer) -> None:
    w.update(contracts, {"contract_id": str(e.originator_id)}, {**e.changes, "parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "PositionAdded")
def _position_added(e: Any, w: Writer) -> None:
    w.insert(contract_positions, _position_row(str(e.originator_id), e.position))
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "PositionChanged")
def _position_changed(e: Any, w: Writer) -> None:
    row = _position_row(str(e.originator_id), e.position)
    w.update(
        contract_positions,
        {"contract_id": row.pop("contract_id"), "position": row.pop("position")},
        row,
    )
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "PositionRemoved")
def _position_removed(e: Any, w: Writer) -> None:
    w.delete(contract_positions, {"contract_id": str(e.originator_id), "position": e.position})
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "Deactivated")
def _deactivated(e: Any, w: Writer) -> None:
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"active": False, "updated_at": e.timestamp})


@contracts_projection.on(CT + "Reactivated")
def _reactivated(e: Any, w: Writer) -> None:
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"active": True, "parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "Ended")
def _ended(e: Any, w: Writer) -> None:
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"end_date": e.end_date, "parked": None, "updated_at": e.timestamp})


@contracts_projection.on(IV + "Issued")
def _run_invoice_issued(e: Any, w: Writer) -> None:
    # A draft of a run was finalized: the run history shows its number from now on.
    w.update(contract_runs, {"invoice_id": str(e.originator_id)}, {"invoice_number": e.number})


@contracts_projection.on(CT + "RunRecorded")
def _run_recorded(e: Any, w: Writer) -> None:
    cid = str(e.originator_id)
    w.insert(
        contract_runs,
        {
            "contract_id": cid,
            "version": e.originator_version,
            "run_date": e.run_date,
            "status": e.status,
            "message": e.message,
            "invoice_id": _sid(e.invoice_id),
            "invoice_number": e.invoice_number,
            "recorded_at": e.timestamp,
        },
    )
    if e.status == "FAILED":
        w.update(contracts, {"contract_id": cid}, {"parked": e.message, "updated_at": e.timestamp})
    else:
        w.update(
            contracts,
            {"contract_id": cid},
            {"last_run_date": e.run_date, "next_run_date": e.next_run_date, "updated_at": e.timestamp},
        )
