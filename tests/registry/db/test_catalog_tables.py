"""The catalog tables keep themselves honest, whoever writes to them (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, InvalidRequestError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload

from registry.catalog.entries import TenantProfile
from registry.db.catalog_tables import (
    AgreementRow,
    ArtifactBaseRow,
    ArtifactRow,
    LicenseDocumentRow,
    OperatorRow,
    RunnerRow,
)
from registry.db.engine import session_factory
from registry.terms import Grant, LicenseTerms, RevenueCap
from registry.vocabulary import GrantStatus, Purpose

TERMS = LicenseTerms(grants=(Grant(purpose=Purpose.PERSONAL, status=GrantStatus.ALLOWED, clause="1"),))


def _license(**changes: Any) -> LicenseDocumentRow:
    values: dict[str, Any] = {
        "key": "lic",
        "version": "1",
        "title": "A license",
        "licensor": "L",
        "family": "lic",
        "hf_aliases": (),
        "verification": "verified",
        "service_terms": False,
        "retired": False,
        "terms": TERMS,
    }
    return LicenseDocumentRow(**(values | changes))


def _artifact(id_: str, **changes: Any) -> ArtifactRow:
    values: dict[str, Any] = {
        "id": id_,
        "kind": "base_model",
        "name": id_,
        "license_key": "lic",
        "license_version": "1",
        "license_flags": (),
        "always_on": False,
        "retired": False,
    }
    return ArtifactRow(**(values | changes))


def _runner(**changes: Any) -> RunnerRow:
    values: dict[str, Any] = {
        "id": "r",
        "kind": "local_diffusers",
        "host": "operator",
        "capacity": 1,
        "enabled": True,
        "config": {},
    }
    return RunnerRow(**(values | changes))


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with session_factory(engine)() as session:
        session.add(_license())
        await session.flush()
        session.add_all([_artifact("base"), _artifact("lora", kind="adapter")])
        await session.commit()
        yield session


async def test_invalid_terms_never_reach_the_database(session: AsyncSession) -> None:
    capped = Grant(
        purpose=Purpose.COMMERCIAL_PRODUCT,
        status=GrantStatus.CONDITIONAL,
        clause="2",
        conditions=(RevenueCap(max_usd=-5, clause="2"),),
    )
    session.add(_license(version="2", terms=LicenseTerms(grants=(capped,))))
    with pytest.raises(StatementError, match=">= 0"):
        await session.flush()


async def test_terms_come_back_as_structs(session: AsyncSession) -> None:
    session.expunge_all()
    row = await session.get(LicenseDocumentRow, ("lic", "1"))
    assert row is not None
    assert row.terms == TERMS


DISHONEST_ROWS: dict[str, Callable[[], Any]] = {
    "unknown license": lambda: _artifact("x", license_key="nope"),
    "unknown artifact kind": lambda: _artifact("x", kind="weights"),
    "duplicate license version": lambda: _license(key="lic", version="1"),
    "unknown base": lambda: ArtifactBaseRow(artifact_id="lora", base_id="ghost", position=0),
    "own base": lambda: ArtifactBaseRow(artifact_id="lora", base_id="lora", position=0),
    "negative price": lambda: _runner(price_per_image_usd=-0.01),
    "capacity": lambda: _runner(capacity=0),
    "host": lambda: _runner(host="somewhere"),
    "half a license reference": lambda: _runner(service_terms_key="lic"),
    "second operator row": lambda: OperatorRow(
        singleton=2, id="o", name="O", charges_tenants=True, profile=TenantProfile()
    ),
}


async def test_constraints_refuse_dishonest_rows(session: AsyncSession) -> None:
    accepted = []
    for name, row in DISHONEST_ROWS.items():
        savepoint = await session.begin_nested()
        session.add(row())
        try:
            await session.flush()
        except IntegrityError:
            await savepoint.rollback()
        else:
            accepted.append(name)
            await savepoint.rollback()
    assert accepted == []


async def test_agreement_constraints(session: AsyncSession) -> None:
    import datetime as dt

    from registry.catalog.entries import AgreementCoverage

    def agreement(**changes: Any) -> AgreementRow:
        values: dict[str, Any] = {
            "id": "a",
            "holder": "operator",
            "tenant_id": None,
            "licensor": "L",
            "covers": AgreementCoverage(license_families=("lic",)),
            "purposes": (Purpose.HOSTED_SERVICE,),
            "valid_from": dt.date(2026, 1, 1),
            "obligations": (),
        }
        return AgreementRow(**(values | changes))

    for bad in (
        agreement(valid_until=dt.date(2025, 1, 1)),
        agreement(monthly_quota=-1),
        agreement(holder="tenant"),
        agreement(holder="tenant", tenant_id="ghost"),
    ):
        async with session.begin_nested():
            session.add(bad)
            with pytest.raises(IntegrityError):
                await session.flush()
    session.add(agreement())
    await session.flush()


async def test_relationships_load_only_when_asked(session: AsyncSession) -> None:
    session.add(ArtifactBaseRow(artifact_id="lora", base_id="base", position=0))
    await session.commit()
    session.expunge_all()
    lora = await session.get(ArtifactRow, "lora")
    assert lora is not None
    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        _ = lora.bases
    loaded = await session.scalar(
        select(ArtifactRow)
        .where(ArtifactRow.id == "lora")
        .options(selectinload(ArtifactRow.bases))
        .execution_options(populate_existing=True)
    )
    assert loaded is not None
    assert [link.base_id for link in loaded.bases] == ["base"]
