"""Monthly quota reservations on agreements, atomic across transactions and processes.

A reservation is one conditional statement, `UPDATE usage_counters SET used = used + n WHERE
... AND used + n <= quota`: the database serialises concurrent writers on the row (PostgreSQL
row lock, SQLite's single writer), so two gateways can never both take the last images of a
quota. The counter row is created first with an insert that ignores a concurrent twin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.upsert import dialect_name
from registry.jobs.tables import UsageCounterRow


class QuotaExhaustedError(Exception):
    """An agreement's monthly quota has no room for the images asked (checked atomically)."""

    def __init__(self, agreement_id: str, month: str, quota: int, asked: int) -> None:
        super().__init__(
            f"agreement {agreement_id!r} has no room for {asked} more images in {month} (quota {quota})"
        )
        self.agreement_id = agreement_id
        self.month = month
        self.quota = quota
        self.asked = asked


def usage_month(when: dt.datetime) -> str:
    return f"{when.year:04d}-{when.month:02d}"


_COUNTERS = cast(Table, UsageCounterRow.__table__)
_COUNTER = _COUNTERS.c
_ENSURE = {
    "postgresql": pg_insert(_COUNTERS).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(_COUNTERS).on_conflict_do_nothing(),
}
_ADD = (
    update(_COUNTERS)
    .where(_COUNTER.agreement_id == bindparam("agreement"), _COUNTER.month == bindparam("for_month"))
    .values(used=_COUNTER.used + bindparam("amount"))
)
"""Built once, bound per call: SQLAlchemy reuses their compiled form (they run in every batch)."""


async def _ensure_rows(session: AsyncSession, agreement_ids: Iterable[str], month: str) -> None:
    values = [{"agreement_id": a, "month": month, "used": 0} for a in agreement_ids]
    if not values:
        return
    await session.execute(
        _ENSURE["postgresql" if dialect_name(session) == "postgresql" else "sqlite"], values
    )


async def reserve(
    session: AsyncSession, amounts: Mapping[str, int], quotas: Mapping[str, int | None], month: str
) -> None:
    """Add `amounts` (images per agreement) to this month's counters in the caller's transaction.

    Raises `QuotaExhaustedError` when an agreement with a quota lacks room; the caller rolls
    back, so no counter moves.
    """
    await _ensure_rows(session, sorted(amounts), month)
    for agreement_id in sorted(amounts):  # a fixed order: no deadlock between two reservers
        amount = amounts[agreement_id]
        quota = quotas.get(agreement_id)
        statement = (
            update(UsageCounterRow)
            .where(UsageCounterRow.agreement_id == agreement_id, UsageCounterRow.month == month)
            .values(used=UsageCounterRow.used + amount)
        )
        if quota is not None:
            statement = statement.where(UsageCounterRow.used + amount <= quota)
        result = await session.execute(statement)
        if getattr(result, "rowcount", 0) != 1:
            raise QuotaExhaustedError(agreement_id, month, quota or 0, amount)


async def add_usage(session: AsyncSession, amounts: Mapping[tuple[str, str], int]) -> None:
    """Add images to counters of agreements without a quota, `{(agreement, month): n}`, in the
    caller's transaction: nothing to check, so a batch of jobs needs one statement per counter."""
    months: dict[str, list[str]] = {}
    for agreement_id, month in amounts:
        months.setdefault(month, []).append(agreement_id)
    for month, agreement_ids in sorted(months.items()):
        await _ensure_rows(session, sorted(agreement_ids), month)
    additions = [
        {"agreement": agreement_id, "for_month": month, "amount": amount}
        for (agreement_id, month), amount in sorted(amounts.items())
        if amount != 0
    ]
    if additions:
        await session.execute(_ADD, additions)


async def release(session: AsyncSession, amounts: Mapping[str, int], month: str) -> None:
    """Give back images reserved by a job that produced fewer (in the caller's transaction)."""
    for agreement_id in sorted(amounts):
        amount = amounts[agreement_id]
        if amount <= 0:
            continue
        await session.execute(
            update(UsageCounterRow)
            .where(
                UsageCounterRow.agreement_id == agreement_id,
                UsageCounterRow.month == month,
                UsageCounterRow.used >= amount,
            )
            .values(used=UsageCounterRow.used - amount)
        )


async def usage_of(session: AsyncSession, agreement_ids: Iterable[str], month: str) -> dict[str, int]:
    """This month's counters of the agreements (absent ones count 0)."""
    ids = sorted(set(agreement_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(UsageCounterRow.agreement_id, UsageCounterRow.used).where(
            UsageCounterRow.agreement_id.in_(ids), UsageCounterRow.month == month
        )
    )
    return {agreement_id: used for agreement_id, used in rows.all()}
