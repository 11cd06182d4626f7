"""The main job's card statements (issue 9): 127,106 real purchase-card transactions of Birmingham City
Council in 31 statement files (examples/birmingham-pcard, OGL v3).

Company ``birmingham`` (Europe/London, GBP); one card per masked number and directorate
(:func:`commands.card_import.birmingham_card`), closing day 3, added when it first appears. For each
statement file in order (``statements_index.csv``), at the local start of the file's last transaction
date E: the new cards are imported (``billing cards import``), every active card's open statement is set
to end on E (``billing cards set-cycle --all``), the file's rows are imported in the Birmingham format
(``billing cards import-charges``: rows dated before the open statement are late and land in it); then the
tick at the local start of E + 1 closes every statement. Reconciled: every closed statement's total and
count equal the sums of that card's rows in that file, exactly, and each file's statements add up to the
index's ``gross_total_gbp``.
"""

from __future__ import annotations

import csv
import gzip
import os
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(HERE, "examples", "birmingham-pcard")
COMPANY = "birmingham"
ZONE = "Europe/London"
CLOSING_DAY = 3
SETUP_AT = datetime(2013, 11, 1, tzinfo=timezone.utc)


def read(path: str = DATA) -> tuple[list[dict[str, str]], dict[str, list[dict[str, str]]], list[str]]:
    """(the index rows in order, the rows of each statement file, the CSV header)."""
    with open(os.path.join(path, "statements_index.csv"), newline="", encoding="utf-8") as f:
        index = list(csv.DictReader(f))
    files: dict[str, list[dict[str, str]]] = {}
    with gzip.open(os.path.join(path, "all_statements.csv.gz"), "rt", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        for row in reader:
            files.setdefault(row["statement_file"], []).append(row)
    return index, files, header


def expected(index: list[dict[str, str]], files: dict[str, list[dict[str, str]]]) -> dict[tuple[str, str], tuple[Decimal, int]]:
    """(card, end date) → (total, count) of every statement, from the CSV alone: each card that exists at
    a file (it appeared in it or an earlier one) has one statement ending on the file's last date."""
    from commands.card_import import birmingham_card

    out: dict[tuple[str, str], tuple[Decimal, int]] = {}
    known: set[str] = set()
    for entry in index:
        rows = files[entry["statement_file"]]
        end = max(r["transaction_date"] for r in rows)
        sums: dict[str, list] = {}
        for r in rows:
            s = sums.setdefault(birmingham_card(r["card"], r["directorate"]), [Decimal(0), 0])
            s[0] += Decimal(r["billing_amount"] or r["amount"])
            s[1] += 1
        known |= set(sums)
        for card in known:
            total, count = sums.get(card, (Decimal("0.00"), 0))
            out[(card, end)] = (total, count)
    return out


def run(store: Any, path: str = DATA, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Set up, then per statement file: cards, set-cycle, charges, tick; returns what the statements say
    and what the CSV says."""
    from commands.bus import handle
    from commands.card_import import ImportCards, ImportCharges, birmingham_card
    from commands.cards import SetStatementCycle
    from commands.companies import SetCompany
    from domain.calendar import start_of_day
    from projections import registry
    from projections import runner as projection_runner
    from projections.card_queries import list_statements, summary
    from scheduler.tick import tick

    index, files, header = read(path)
    handle(store, SetCompany(COMPANY, SETUP_AT, name="Birmingham City Council", timezone=ZONE, currency="GBP"))
    known: set[str] = set()
    closed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, entry in enumerate(index):
            rows = files[entry["statement_file"]]
            end = date.fromisoformat(max(r["transaction_date"] for r in rows))
            at = start_of_day(end, ZONE)
            new = sorted({birmingham_card(r["card"], r["directorate"]): r["card"] for r in rows}.items())
            new = [(ref, masked) for ref, masked in new if ref not in known]
            if new:
                cards_csv = os.path.join(tmp, "cards.csv")
                with open(cards_csv, "w", newline="", encoding="utf-8") as f:
                    w = csv.writer(f)
                    w.writerow(["reference", "holder", "last4", "currency", "closing_day", "due_day", "due_after_days", "boundary", "holidays"])
                    for ref, masked in new:
                        w.writerow([ref, ref.split(" ", 1)[1] or "Birmingham City Council", masked[-4:], "GBP", CLOSING_DAY, "", "", "", "GB"])
                handle(store, ImportCards(cards_csv, at, COMPANY))
                known |= {ref for ref, _m in new}
            handle(store, SetStatementCycle(None, end, at, COMPANY))
            charges_csv = os.path.join(tmp, "charges.csv")
            with open(charges_csv, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=header)
                w.writeheader()
                w.writerows(rows)
            handle(store, ImportCharges(charges_csv, at, COMPANY))
            s = tick(store, start_of_day(end + timedelta(days=1), ZONE), company=COMPANY, kind="card_statement", list_documents=False)
            closed += s.counts.get("card_statement", {}).get("closed", 0)
            if progress is not None:
                progress(i + 1, len(index))
    projection_runner.run(store, registry.ALL)
    got: dict[tuple[str, str], tuple[Decimal, int]] = {}
    per_file: dict[str, Decimal] = {}
    for st in list_statements(store.read_engine, COMPANY, state="closed", paging=None):
        got[(st["card"], st["end_date"])] = (Decimal(st["total_amount"]), st["purchases_count"])
        per_file[st["end_date"]] = per_file.get(st["end_date"], Decimal(0)) + Decimal(st["total_amount"])
    index_totals = {max(r["transaction_date"] for r in files[e["statement_file"]]): Decimal(e["gross_total_gbp"]) for e in index}
    return {"files": len(index), "cards": len(known), "closed": closed, "summary": summary(store.read_engine, COMPANY),
            "got": got, "expected": expected(index, files), "per_file": per_file, "index_totals": index_totals,
            "rows": sum(len(r) for r in files.values()), "refund_rows": sum(1 for r in files.values() for x in r if Decimal(x["billing_amount"] or x["amount"]) < 0)}
