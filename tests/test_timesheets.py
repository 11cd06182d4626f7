"""Weekly timesheet invoicing (issue 8): weeks and their Tuesday 07:00 across DST, the three unit policies on
the same entries, rates snapshotted at issue, locked weeks, late entries, the Toggl import and the HTTP API.
(Determinism, racing tickers and the CLI's bad inputs are the shared suites': scenarios/timesheets.py.)"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from commands.app import Store
from commands.bus import handle
from commands.companies import SetCompany
from commands.customers import AddCustomer
from commands.engagements import CreateEngagement
from commands.timesheets import AddTimesheetEntry, DeleteTimesheetEntry, ImportTimesheets, SetCustomerRate
from domain.errors import Conflict, ImportRejected
from domain.timesheets import week_due_at
from projections import queries, registry
from projections import runner as projection_runner
from scheduler.tick import tick

UTC = timezone.utc
T0 = datetime(2024, 1, 1, tzinfo=UTC)
NY = "America/New_York"


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def practice(store: Store, policy: str | None = None) -> None:
    handle(store, SetCompany("CARE", T0, name="Care", timezone=NY, currency="USD"))
    if policy:
        handle(store, SetCompany("CARE", T0, timesheet_units=policy))
    handle(store, AddCustomer("CL", "Client", NY, "USD", 14, company="CARE", at=T0))
    handle(store, SetCustomerRate("CL", "Aetna", "25.00", date(2024, 1, 1), T0, "CARE"))
    handle(store, CreateEngagement("TH", "CL", "Therapy", "hourly", date(2024, 1, 1), T0, "CARE"))


def entry(store: Store, eid: str, start: datetime, minutes: int, at: datetime | None = None, staff: str = "Dana") -> None:
    handle(store, AddTimesheetEntry(eid, "TH", start, start + timedelta(minutes=minutes), at or start + timedelta(hours=2), "CARE", staff, "90837"))


def invoices(store: Store) -> list[dict]:
    projection_runner.run(store, registry.ALL)
    return queries.list_invoices(store.read_engine, company="CARE")


def test_the_week_is_due_tuesday_0700_local_across_both_dst_changes() -> None:
    # the week of Mon Mar 4 2024 ends Mon Mar 11 (DST began Sun Mar 10): Tue Mar 12 07:00 EDT = 11:00 UTC
    assert week_due_at(date(2024, 3, 4), NY) == utc(2024, 3, 12, 11)
    # the week before: Tue Mar 5 07:00 EST = 12:00 UTC; the week of Oct 28 (DST ended Nov 3): Nov 5 12:00 UTC
    assert week_due_at(date(2024, 2, 26), NY) == utc(2024, 3, 5, 12)
    assert week_due_at(date(2024, 10, 28), NY) == utc(2024, 11, 5, 12)


def test_sunday_night_local_belongs_to_the_week_it_ends_and_monday_0000_to_the_next(sqlite_store: Store) -> None:
    practice(sqlite_store)
    entry(sqlite_store, "sun", utc(2024, 3, 11, 3, 30), 20)  # Sun Mar 10 23:30 EDT
    entry(sqlite_store, "mon", utc(2024, 3, 11, 4, 0), 20)  # Mon Mar 11 00:00 EDT
    assert tick(sqlite_store, utc(2024, 3, 12, 10, 59)).issued == []  # 06:59 local
    first = tick(sqlite_store, utc(2024, 3, 12, 11, 0)).issued
    assert [(d["week"], d["units"]) for d in first] == [("2024-W10", 2)]
    assert [(d["week"], d["units"]) for d in tick(sqlite_store, utc(2024, 3, 19, 11, 0)).issued] == [("2024-W11", 2)]
    docs = invoices(sqlite_store)
    assert [(d["issue_date"], d["due_date"], d["period_start"], d["period_end"]) for d in docs] == [
        ("2024-03-12", "2024-03-26", "2024-03-04", "2024-03-11"), ("2024-03-19", "2024-04-02", "2024-03-11", "2024-03-18")]


@pytest.mark.parametrize("policy, units", [("ceil_per_entry", [1, 1, 1]), ("ceil_per_client_day", [1, 1, 0]), ("cms_8_minute", [1, 0, 0])])
def test_three_seven_minute_entries_on_one_day_are_3_2_or_1_units(sqlite_store: Store, policy: str, units: list[int]) -> None:
    practice(sqlite_store, policy)
    for k in range(3):
        entry(sqlite_store, f"e{k}", utc(2024, 1, 9, 15, 10 * k), 7)
    tick(sqlite_store, utc(2024, 1, 16, 12))
    (doc,) = invoices(sqlite_store)
    assert [int(float(ln["quantity"])) for ln in doc["lines"]] == units
    assert doc["gross"] == f"{25 * sum(units)}.00"
    assert {ln["attributes"]["unit_policy"] for ln in doc["lines"]} == {policy}


def test_rates_are_snapshotted_at_issue_and_an_empty_week_has_no_invoice(sqlite_store: Store) -> None:
    practice(sqlite_store)
    entry(sqlite_store, "a", utc(2024, 1, 9, 15), 50)  # 4 units
    tick(sqlite_store, utc(2024, 1, 16, 12))
    handle(sqlite_store, SetCustomerRate("CL", "Medicaid", "30.00", date(2024, 1, 1), utc(2024, 1, 17), "CARE"))
    entry(sqlite_store, "b", utc(2024, 1, 17, 15), 16)  # 2 units at the new rate
    entry(sqlite_store, "gone", utc(2024, 1, 24, 15), 30)
    handle(sqlite_store, DeleteTimesheetEntry("gone", utc(2024, 1, 25), "CARE"))
    tick(sqlite_store, utc(2024, 2, 1))
    docs = invoices(sqlite_store)
    assert [(d["gross"], d["lines"][0]["attributes"]["payer"]) for d in docs] == [("100.00", "Aetna"), ("60.00", "Medicaid")]


def test_a_locked_week_refuses_changes_and_a_late_entry_goes_on_the_next_invoice(sqlite_store: Store) -> None:
    practice(sqlite_store)
    entry(sqlite_store, "a", utc(2024, 1, 9, 15), 30)
    tick(sqlite_store, utc(2024, 1, 16, 12))
    with pytest.raises(Conflict, match="INV-2024-000001"):
        handle(sqlite_store, DeleteTimesheetEntry("a", utc(2024, 1, 17), "CARE"))
    entry(sqlite_store, "late", utc(2024, 1, 10, 15), 45, at=utc(2024, 1, 18))  # its week W02 is locked
    entry(sqlite_store, "b", utc(2024, 1, 19, 15), 15)
    tick(sqlite_store, utc(2024, 1, 23, 12))
    second = invoices(sqlite_store)[1]
    assert [(ln["attributes"]["entry_id"], ln["attributes"]["date"], ln["attributes"].get("late", False)) for ln in second["lines"]] == [
        ("late", "2024-01-10", True), ("b", "2024-01-19", False)]
    assert second["gross"] == "100.00"  # 3 + 1 units


def test_the_toggl_export_is_detected_and_an_unknown_format_is_refused(sqlite_store: Store, tmp_path: Path) -> None:
    practice(sqlite_store)
    toggl = tmp_path / "toggl.csv"
    toggl.write_text("Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,Duration,Tags,Amount ()\n"
                     "TH,Chemistry,,Lab,No,2024-03-09,23:50:00,2024-03-10,00:20:00,00:30:00,,\n"
                     "TH,Chemistry,,Lab,No,2024-03-09,23:50:00,2024-03-10,00:20:00,00:30:00,,\n", encoding="utf-8")
    at = utc(2024, 3, 11)
    assert handle(sqlite_store, ImportTimesheets(str(toggl), at, "CARE")) == {"created": 2, "unchanged": 0}
    assert handle(sqlite_store, ImportTimesheets(str(toggl), at, "CARE")) == {"created": 0, "unchanged": 2}
    tick(sqlite_store, utc(2024, 3, 12, 12))
    (doc,) = invoices(sqlite_store)
    assert (doc["period_start"], doc["gross"]) == ("2024-03-04", "100.00")  # Saturday night in New York: week W10, 2 x 2 units
    other = tmp_path / "clockwork.csv"
    other.write_text("when,what\n2024-01-01,x\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as e:
        handle(sqlite_store, ImportTimesheets(str(other), at, "CARE"))
    assert e.value.problems[0][1] == "format"


def test_timesheets_over_http(tmp_path: Path) -> None:
    from test_http import Api

    api = Api(f"sqlite:///{tmp_path / 'http.db'}")
    at = "2026-01-01T00:00:00+00:00"
    api.ok("PATCH", "/v1/company", json={"timezone": NY, "currency": "USD", "timesheet_units": "cms_8_minute", "at": at})
    api.ok("POST", "/v1/customers", json={"reference": "CL", "name": "Client", "timezone": NY, "currency": "USD", "at": at})
    assert api.ok("POST", "/v1/customers/CL/rates", json={"payer": "Aetna", "rate_per_unit": "20.00", "from": "2026-01-01", "at": at}) == [
        {"from": "2026-01-01", "payer": "Aetna", "rate_per_unit": "20.00", "currency": "USD"}]
    api.ok("POST", "/v1/engagements", json={"reference": "TH", "customer": "CL", "name": "Therapy", "pricing": "hourly",
                                            "start_date": "2026-01-01", "at": at})
    e = api.ok("POST", "/v1/timesheet-entries", json={"entry_id": "x1", "engagement": "TH", "start": "2026-01-06T10:00:00-05:00",
                                                      "minutes": 23, "at": "2026-01-06T16:00:00+00:00"})
    assert (e["week"], e["status"]) == ("2026-01-05", "OPEN")
    r = api.call("POST", "/v1/timesheet-entries", json={"entry_id": "x2", "engagement": "TH", "start": "2026-01-06T10:00:00-05:00",
                                                        "end": "2026-01-06T09:00:00-05:00", "at": "2026-01-06T16:00:00+00:00"})
    assert r.status_code == 422 and r.json()["field"] == "end"
    api.ok("POST", "/v1/tick", json={"at": "2026-01-13T12:00:00+00:00", "kind": "timesheet"})
    listed = api.ok("GET", "/v1/timesheet-entries")["items"]
    assert [(x["entry_id"], x["status"], x["invoice"]) for x in listed] == [("x1", "LOCKED", "INV-2026-000001")]
    assert api.call("DELETE", "/v1/timesheet-entries/x1", params={"at": "2026-01-14T00:00:00+00:00"}).status_code == 409
    assert api.ok("GET", "/v1/invoices/INV-2026-000001")["gross"] == "40.00"  # 23 minutes: 2 units under the 8-minute rule
    api.ok("POST", "/v1/timesheet-entries", json={"entry_id": "x3", "engagement": "TH", "start": "2026-01-14T10:00:00-05:00",
                                                  "minutes": 8, "at": "2026-01-14T16:00:00+00:00"})
    assert api.call("POST", "/v1/timesheet-weeks/CL/2026-W03/invoice", key="plain", params={"at": "2026-01-14T17:00:00+00:00"}).status_code == 403
    assert api.ok("POST", "/v1/timesheet-weeks/CL/2026-W03/invoice", params={"at": "2026-01-14T17:00:00+00:00"}) == {"number": "INV-2026-000002"}
    api.client.close()
    api.client.app.state.engine.store.close()


def test_the_toggl_demo_reconciles_with_the_csv(sqlite_store: Store) -> None:
    from commands import demo_timesheets

    result = demo_timesheets.run(sqlite_store)
    assert result["imported"] == {"created": 1124, "unchanged": 0}
    assert result["billed"] == result["expected"]
    assert sum(b["invoices"] for b in result["billed"].values()) == 68


def test_a_week_invoiced_by_hand_is_done_for_the_tick_and_later_entries_are_late(sqlite_store: Store) -> None:
    from commands.timesheets import InvoiceTimesheetWeek

    practice(sqlite_store)
    entry(sqlite_store, "a", utc(2024, 1, 9, 15), 30)
    number = handle(sqlite_store, InvoiceTimesheetWeek("CL", "2024-W02", utc(2024, 1, 11, 18), "CARE"))
    assert number == "INV-2024-000001"
    with pytest.raises(Conflict):
        handle(sqlite_store, InvoiceTimesheetWeek("CL", "2024-W02", utc(2024, 1, 11, 19), "CARE"))
    entry(sqlite_store, "b", utc(2024, 1, 12, 15), 15, at=utc(2024, 1, 12, 18))  # same week, after it was invoiced: late
    issued = tick(sqlite_store, utc(2024, 1, 23, 12)).issued
    assert [(d["week"], d["units"]) for d in issued] == [("2024-W03", 1)]
    first, second = invoices(sqlite_store)
    assert (first["issue_date"], first["gross"]) == ("2024-01-11", "50.00")
    assert second["lines"][0]["attributes"]["late"] is True


@pytest.mark.parametrize("header, row", [
    ("Project,Client,Description,Task,User,Group,Email,Tags,Billable,Start Date,Start Time,End Date,End Time,Duration (h)",
     "Chem,TH,Lab,,Dana,,d@x.org,,Yes,03/05/2024,09:00:00 AM,03/05/2024,09:50:00 AM,00:50:00"),
    ("Date,Client,Project,Project Code,Task,Notes,Hours,Hours Rounded,Billable?,Invoiced?,First Name,Last Name",
     "2024-03-05,TH,Chem,,Therapy,Lab,0.8333,0.83,Yes,No,Dana,Smith"),
])
def test_clockify_and_harvest_exports_are_read(sqlite_store: Store, tmp_path: Path, header: str, row: str) -> None:
    practice(sqlite_store)
    f = tmp_path / "export.csv"
    f.write_text(header + "\n" + row + "\n", encoding="utf-8")
    assert handle(sqlite_store, ImportTimesheets(str(f), utc(2024, 3, 6), "CARE")) == {"created": 1, "unchanged": 0}
    tick(sqlite_store, utc(2024, 3, 12, 12))
    (doc,) = invoices(sqlite_store)
    assert doc["gross"] == "100.00"  # 50 minutes (Harvest: 0.8333 h = 2,999 s): 4 units at 25.00
    assert doc["lines"][0]["attributes"]["date"] == "2024-03-05"


def test_a_correction_of_an_invoiced_entry_bills_the_difference_and_a_negative_week_is_a_credit_note(sqlite_store: Store) -> None:
    from commands.timesheets import CorrectTimesheetEntry

    practice(sqlite_store)
    entry(sqlite_store, "a", utc(2024, 1, 9, 15), 50)  # 4 units
    entry(sqlite_store, "open", utc(2024, 1, 16, 15), 10)
    tick(sqlite_store, utc(2024, 1, 16, 12))
    # an entry of a week not invoiced yet simply changes: 10 -> 20 minutes
    handle(sqlite_store, CorrectTimesheetEntry("open", utc(2024, 1, 17), "CARE", minutes=20))
    # invoiced: 50 -> 65 minutes = 5 units, one more on the next invoice
    handle(sqlite_store, CorrectTimesheetEntry("a", utc(2024, 1, 17, 1), "CARE", minutes=65))
    tick(sqlite_store, utc(2024, 1, 23, 12))
    docs = invoices(sqlite_store)
    assert [(d["number"], d["gross"]) for d in docs] == [("INV-2024-000001", "100.00"), ("INV-2024-000002", "75.00")]
    assert [(int(float(ln["quantity"])), ln["attributes"].get("correction_of")) for ln in docs[1]["lines"]] == [(2, None), (1, "INV-2024-000001")]
    # invoiced again: 65 -> 10 minutes = 1 unit, four fewer: the next week has nothing else, so a credit note
    handle(sqlite_store, CorrectTimesheetEntry("a", utc(2024, 1, 24), "CARE", minutes=10))
    tick(sqlite_store, utc(2024, 2, 6, 12))
    projection_runner.run(sqlite_store, registry.ALL)
    notes = queries.list_invoices(sqlite_store.read_engine, company="CARE", kind="CREDIT_NOTE")
    assert [(n["number"], n["gross"], n["references"]) for n in notes] == [("CN-2024-000001", "100.00", "INV-2024-000001")]
    with pytest.raises(Exception, match="keeps its date"):
        handle(sqlite_store, CorrectTimesheetEntry("a", utc(2024, 2, 7), "CARE", start=utc(2024, 1, 10, 15), end=utc(2024, 1, 10, 16)))
