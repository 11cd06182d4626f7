"""Commands over many cards at once (issue 9: ``set-cycle --all``, ``init-statements``, the card and
charge imports): apply everything on one unit of work, then save it card by card in batches the store
accepts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from commands.bus import UnitOfWork, retrying
from domain.credit_card import CreditCard
from domain.credit_card_invoice import statement_id


#: Events per save of a command over many cards (the store's bound is commands.app.MAX_EVENTS_PER_SAVE).
BATCH_EVENTS = 400
#: Cards per unit of work when a batch is redone after a lost race.
BATCH_CARDS = 50


def preload_cards(work: UnitOfWork, ids: Sequence[Any]) -> None:
    """Bulk-load the cards ``ids`` (UUIDs; other keys ignored) and their open statements: two queries,
    not one per aggregate."""
    cards = work.get_many([k for k in ids if isinstance(k, UUID)])
    work.get_many([statement_id(c.id, s) for c in cards.values() if isinstance(c, CreditCard) for s, _a, _b in c.open])


def in_batches(uow: UnitOfWork, keys: Sequence[Any], apply: Callable[[UnitOfWork, Any], Any], *,
               preload: Callable[[UnitOfWork, Sequence[Any]], None] = preload_cards,
               owner: Callable[[Any], UUID] = lambda k: k, work: UnitOfWork | None = None,
               applied: list[Any] | None = None) -> list[Any]:
    """Run ``apply(unit, key)`` for every key (each key changes one card, ``owner(key)``, and its
    statements) and save the result card by card in saves of at most :data:`BATCH_EVENTS` events (the
    store's bound, :data:`commands.app.MAX_EVENTS_PER_SAVE`; a card's events are never split).

    Every key is applied first, on one unit of work (``work``, or a new one that ``preload`` fills; with
    ``applied``, the caller applied them on ``work`` already and these are the results): the first problem
    raises and nothing is written. Then the cards' events are saved batch by batch. Should another writer
    have saved one of them first, the cards not saved yet are run again from scratch on fresh state, with
    the engine's retry loop (:func:`commands.bus.retrying`); what the other writer did is then found (the
    commands are idempotent). Returns the results per key, in order."""
    if work is None:
        work = UnitOfWork(uow.store, uow.at)
        preload(work, keys)
    results = applied if applied is not None else [apply(work, k) for k in keys]
    from eventsourcing.persistence import IntegrityError

    groups = _by_card(work)
    saved: set[UUID] = set()
    try:
        for batch in _batches(groups):
            uow.store.save([a for cid in batch for a in groups[cid]])
            saved.update(batch)
    except IntegrityError:
        rest = [i for i, k in enumerate(keys) if owner(k) not in saved]
        for i, r in zip(rest, _again(uow, [keys[i] for i in rest], apply, preload)):
            results[i] = r
    return results


def _by_card(work: UnitOfWork) -> dict[UUID, list[Any]]:
    """The aggregates ``work`` changed, by the card they belong to (in the order they were loaded)."""
    groups: dict[UUID, list[Any]] = {}
    for a in work.touched():
        groups.setdefault(a.id if isinstance(a, CreditCard) else a.card_id, []).append(a)
    return groups


def _batches(groups: dict[UUID, list[Any]]) -> list[list[UUID]]:
    """Cards in saves of at most :data:`BATCH_EVENTS` pending events (a card with more has a save of its own)."""
    out: list[list[UUID]] = [[]]
    n = 0
    for cid, aggregates in groups.items():
        size = sum(len(a.pending_events) for a in aggregates)
        if out[-1] and n + size > BATCH_EVENTS:
            out.append([])
            n = 0
        out[-1].append(cid)
        n += size
    return out


def _again(uow: UnitOfWork, keys: Sequence[Any], apply: Callable[[UnitOfWork, Any], Any],
           preload: Callable[[UnitOfWork, Sequence[Any]], None]) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(keys), BATCH_CARDS):
        def save(chunk: Sequence[Any] = keys[i:i + BATCH_CARDS]) -> list[Any]:
            work = UnitOfWork(uow.store, uow.at)
            preload(work, chunk)
            done = [apply(work, k) for k in chunk]
            groups = _by_card(work)
            for batch in _batches(groups):
                uow.store.save([a for cid in batch for a in groups[cid]])
            return done

        out.extend(retrying(save))
    return out


