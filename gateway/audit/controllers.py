"""`GET /v1/audit` (the caller's tenant only, `audit:read`) and `/admin/audit`,
`/admin/audit/verify`, `/admin/audit/export`, `POST /admin/audit/images` (trace an image file),
`/admin/reports/usage` (`admin`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.audit.schemas import AuditPage, Limit, audit_event, event_query, month_window, parse_month
from gateway.audit.trace import ImageTrace, ImageTraceError, trace_image
from gateway.auth.context import AuthContext
from gateway.auth.scopes import Scope
from gateway.problems import invalid_field_problem
from gateway.runtime import GatewayRuntime
from registry.audit import (
    AuditError,
    EventQuery,
    MonthlyUsage,
    VerificationReport,
    iterate_events,
    load_verifier,
    monthly_usage,
    query_events,
    verify_chain,
)
from registry.audit.export import CSV_COLUMNS, event_record
from registry.audit.query import MAX_PAGE, EventPage
from registry.audit.signing import CheckpointVerifier
from registry.delivery.reconcile import UsageReconciliation, reconcile_usage_reports

ADMIN = {"scope": Scope.ADMIN}


def _verifier(runtime: GatewayRuntime) -> CheckpointVerifier | None:
    """The data directory's published audit key, or None (checkpoints then go unchecked)."""
    try:
        return load_verifier(runtime.settings.data_dir)
    except AuditError:
        return None


async def _page(db_session: AsyncSession, query: EventQuery) -> AuditPage:
    page = await query_events(db_session, query)
    return AuditPage(events=[audit_event(e) for e in page.events], next_cursor=page.next_cursor)


class TenantAuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get("/", opt={"scope": Scope.AUDIT_READ}, summary="The caller's tenant's audit trail")
    async def tenant_audit(
        self,
        auth: NamedDependency[AuthContext],
        db_session: NamedDependency[AsyncSession],
        kind: FromQuery[str | None] = None,
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
        decision_id: FromQuery[str | None] = None,
        job_id: FromQuery[str | None] = None,
        request_id: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 100,
        newest_first: FromQuery[bool] = False,
    ) -> AuditPage:
        """Events recorded for the caller's tenant; `cursor` pages on (keyset, stable under appends)."""
        query = event_query(
            tenant=auth.tenant_id,
            kind=kind,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
            newest_first=newest_first,
            decision_id=decision_id,
            job_id=job_id,
            request_id=request_id,
        )
        return await _page(db_session, query)


class AdminAuditController(Controller):
    path = "/audit"
    tags = ["admin", "audit"]

    @get("/", opt=ADMIN, summary="Every tenant's audit events")
    async def admin_audit(
        self,
        db_session: NamedDependency[AsyncSession],
        tenant: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
        actor_subject: FromQuery[str | None] = None,
        client_id: FromQuery[str | None] = None,
        decision_id: FromQuery[str | None] = None,
        job_id: FromQuery[str | None] = None,
        request_id: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 100,
        newest_first: FromQuery[bool] = False,
    ) -> AuditPage:
        query = event_query(
            tenant=tenant,
            kind=kind,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
            newest_first=newest_first,
            actor_subject=actor_subject,
            client_id=client_id,
            decision_id=decision_id,
            job_id=job_id,
            request_id=request_id,
        )
        return await _page(db_session, query)

    @get("/verify", opt=ADMIN, summary="Recompute the hash chain and check signed checkpoints")
    async def verify(self, runtime: NamedDependency[GatewayRuntime]) -> VerificationReport:
        return await verify_chain(runtime.engine, verifier=_verifier(runtime))

    @post("/images", opt=ADMIN, status_code=200, summary="Trace an image file to its job and licenses")
    async def trace(
        self, runtime: NamedDependency[GatewayRuntime], request: Request[Any, Any, Any]
    ) -> ImageTrace:
        """The body is the PNG file, as delivered (`Content-Type: image/png`). Verify the hash
        chain, then check that the job the PNG's provenance names recorded exactly these bytes in
        its outcome event (`verdict`: proven, not_proven, tampered or unverifiable). A body that
        is not a PNG with Clearance provenance is 422."""
        data = await request.body()
        try:
            return await trace_image(runtime.engine, data, _verifier(runtime))
        except ImageTraceError as exc:
            raise invalid_field_problem(exc, "body", str(exc), "body") from exc

    @get("/export", opt=ADMIN, summary="Stream events as JSON Lines or CSV")
    async def export(
        self,
        runtime: NamedDependency[GatewayRuntime],
        format: FromQuery[Literal["jsonl", "csv"]] = "jsonl",
        tenant: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
    ) -> Stream:
        query = event_query(
            tenant=tenant,
            kind=kind,
            since=since,
            until=until,
            cursor=None,
            limit=MAX_PAGE,
            newest_first=False,
        )
        media_type = "application/x-ndjson" if format == "jsonl" else "text/csv"  # Litestar adds the charset
        # The first page is read before the answer starts: a database that cannot be used is
        # then a 503, not a stream cut after its 200.
        connection = await runtime.engine.connect()
        try:
            first = await query_events(connection, query)
        except BaseException:
            await connection.close()
            raise
        return Stream(
            _exported(connection, query, first, format),
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="audit.{format}"'},
        )


async def _exported(
    connection: AsyncConnection, query: EventQuery, first: EventPage, fmt: str
) -> AsyncIterator[bytes]:
    encode = msgspec.json.Encoder().encode
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    try:
        if fmt == "csv":
            writer.writeheader()
            yield _drain(buffer)
        async for event in iterate_events(connection, query, first):
            record = event_record(event)
            if fmt == "jsonl":
                yield encode(record) + b"\n"
            else:
                record["payload"] = event.payload
                writer.writerow(record)
                yield _drain(buffer)
    finally:
        await connection.close()


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


class UsageReportController(Controller):
    path = "/reports"
    tags = ["admin", "audit"]

    @get("/usage", opt=ADMIN, summary="Monthly usage from job outcomes in the audit log")
    async def usage(
        self,
        db_session: NamedDependency[AsyncSession],
        month: FromQuery[str],
        tenant: FromQuery[str | None] = None,
    ) -> MonthlyUsage:
        year, number = parse_month(month)
        return await monthly_usage(db_session, year, number, tenant=tenant)

    @get("/licensor-usage", opt=ADMIN, summary="Licensor usage reports reconciled with the audit log")
    async def licensor_usage(
        self,
        db_session: NamedDependency[AsyncSession],
        month: FromQuery[str],
        tenant: FromQuery[str | None] = None,
    ) -> UsageReconciliation:
        """For the jobs whose outcome the audit log recorded in `month` (UTC): the usage reports
        their recorded decisions owe licensors (usage-metering obligations), against the reports
        queued in the outbox: missing, with the wrong count, pending, given up, or unexpected.
        `balanced` when every one was delivered as owed."""
        since, until = month_window(month)
        return await reconcile_usage_reports(db_session, since=since, until=until, tenant=tenant)
