"""Admission: the best permitted runner, then one transaction that reserves quota, writes the
job and appends the decision to the audit log. Only after it commits is the task handed on.

Candidates are the enabled runners serving the model and every adapter; the policy engine
judges each. Among the permitted ones that this gateway can run, the healthy and unsaturated
come first, then adapters already warm, then price, then load.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import Table, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.context import AuthContext
from gateway.catalog.cache import CatalogRevision
from gateway.jobs.config import JobLimits
from gateway.jobs.errors import (
    DecisionNotRecordedError,
    JobValidationError,
    NoPermittedRunnerError,
    RetryLaterError,
)
from gateway.jobs.lifecycle import webhook_data
from gateway.jobs.limits import TenantRateLimiter
from gateway.jobs.pool import RunnerPool
from gateway.jobs.resolve import ResolvedJob, RunnerCannotServeError, build_task, resolve_request
from gateway.jobs.schemas import JobRequest
from gateway.jobs.tenant_limits import TenantLimitTable
from gateway.webhooks import WebhookSubscription, enqueue_webhook
from gateway.webhooks.events import WebhookFilterError
from registry.audit import AuditLog, EventKind, NewEvent
from registry.catalog.entries import OPERATOR, Agreement
from registry.catalog.entries import Runner as RunnerEntry
from registry.jobs import quota
from registry.jobs.tables import JobRow
from registry.jobs.writer import JobWriter, WorkContext
from registry.netguard import OutboundPolicy, UnsafeUrlError, vet_url
from registry.policy import PolicyDecision, PolicyRequest, rank_key
from runners.protocol import RunnerLimits
from runners.task import GenerationTask

log = logging.getLogger(__name__)

OnAdmitted = Callable[[AsyncSession, JobRow], Awaitable[None]]
"""Runs inside the admission transaction after the job row is added (idempotency records)."""


def new_job_id() -> str:
    """`job_` + 12 hex digits of the Unix time in milliseconds + 12 random ones: ids of jobs
    created later sort later, so the primary-key index (and the audit log's `job_id` index)
    grows at its right edge instead of at a random page per job; 48 random bits per millisecond
    keep them unique."""
    return f"job_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Admitted:
    row: JobRow
    task: GenerationTask
    decision: PolicyDecision
    slot: bool = False
    """Whether the job holds one of its tenant's slots (admitted `running`, to start at once):
    hand it to the executor with the job."""


@dataclass(frozen=True)
class _Choice:
    runner: RunnerEntry
    decision: PolicyDecision
    task: GenerationTask
    healthy: bool
    queued_behind: bool


@dataclass
class _Slot:
    """Whether the admission holds one of the tenant's slots."""

    taken: bool = False


class QueueStats:
    """What the executor knows of its own load and holds of the tenants' concurrency slots;
    the dispatcher asks, it does not count."""

    async def take_slot(self, tenant_id: str) -> bool:
        """Take one of the tenant's slots (leased across processes); False when none is free."""
        return True

    def give_slot(self, tenant_id: str) -> None:
        """Give back a slot taken for a job that was not admitted to start at once."""

    def has_room(self, tenant_id: str) -> bool:
        """Whether a job of the tenant could likely start now (no slot taken)."""
        return True

    def backlog(self, runner_id: str) -> int:
        return 0


@dataclass
class Dispatcher:
    sessions: async_sessionmaker[AsyncSession]
    pool: RunnerPool
    limits: JobLimits
    outbound: OutboundPolicy
    rate_limiter: TenantRateLimiter
    stats: QueueStats
    owner: str
    writer: JobWriter
    tenant_limits: TenantLimitTable
    strict_policy: bool = False
    audit_log: Callable[[], AuditLog | None] = lambda: None

    async def admit(
        self,
        auth: AuthContext,
        request: JobRequest,
        revision: CatalogRevision,
        *,
        now: dt.datetime,
        idempotency_key: str | None = None,
        on_admitted: OnAdmitted | None = None,
        start_at_once: bool = False,
    ) -> Admitted:
        """Admit the job durably. With `start_at_once` (the submitter waits for the result) and
        a free runner and a free slot of the tenant, the job is admitted already `running`,
        saving the start's durable write; it then holds the slot (`Admitted.slot`)."""
        slot = _Slot()
        try:
            return await self._admit(
                auth, request, revision, now, idempotency_key, on_admitted, start_at_once, slot
            )
        except BaseException:
            if slot.taken:
                self.stats.give_slot(auth.tenant_id)
            raise

    async def _admit(
        self,
        auth: AuthContext,
        request: JobRequest,
        revision: CatalogRevision,
        now: dt.datetime,
        idempotency_key: str | None,
        on_admitted: OnAdmitted | None,
        start_at_once: bool,
        slot: _Slot,
    ) -> Admitted:
        self.tenant_limits.update(revision.catalog)  # a plain check unless the catalog changed
        try:
            retry_after = await self.rate_limiter.take(auth.tenant_id, now=now.timestamp())
        except (SQLAlchemyError, OSError) as exc:
            log.error("tenant %s: submission rate not counted: %s", auth.tenant_id, exc)
            raise RetryLaterError(
                "the submission could not be counted against the tenant's rate: the database did not answer",
                status=503,
                retry_after=5,
                slug="database-unavailable",
            ) from exc
        if retry_after is not None:
            raise RetryLaterError(
                f"tenant {auth.tenant_id} exceeded {self.tenant_limits.rate_per_minute(auth.tenant_id)} "
                "jobs per minute",
                status=429,
                retry_after=math.ceil(retry_after),
                slug="rate-limited",
            )
        snapshot = revision.snapshot
        tenant = snapshot.tenants.get(auth.tenant_id)
        purpose = request.purpose or (tenant.default_purpose if tenant is not None else None)
        if purpose is None:
            raise JobValidationError("purpose", "required: the tenant has no default purpose")
        resolved = resolve_request(request, snapshot.artifacts, self.limits)
        webhook = await self._check_webhook(request)
        deadline = self._check_deadline(request, now)
        self.pool.follow(revision.catalog, revision.number)
        candidates = [
            r
            for r in snapshot.candidate_runners(resolved.model.id)
            if all(a in r.artifacts for a in resolved.adapter_ids)
        ]
        if not candidates:
            field = "adapters" if resolved.adapters else "model"
            raise JobValidationError(
                field,
                f"no enabled runner serves {resolved.model.id}"
                + (f" with {', '.join(resolved.adapter_ids)}" if resolved.adapters else ""),
            )
        job_id = new_job_id()
        month = quota.usage_month(now)
        quotas = _quotas(snapshot.agreements.get(auth.tenant_id, []), snapshot.agreements.get(OPERATOR, []))
        limited = [a for a, q in quotas.items() if q is not None]
        for attempt in range(2):
            usage: dict[str, int] = {}
            if limited:  # agreements without a quota need no counter read before deciding
                async with self.sessions() as session:
                    usage = await quota.usage_of(session, limited, month)
            policy_request = PolicyRequest(
                tenant_id=auth.tenant_id,
                model_id=resolved.model.id,
                purpose=purpose,
                date=now.date(),
                adapter_ids=resolved.adapter_ids,
                output_use=request.output_use,
                use_cases=frozenset(request.use_cases),
                # The policy calls an agreement used up at `used >= quota`; a job of n images
                # needs n free, so it is judged as if n - 1 were already taken.
                usage_this_month={
                    a: usage.get(a, 0) + resolved.num_images - 1 for a, q in quotas.items() if q is not None
                },
                strict=self.strict_policy,
                max_alternatives=0,
            )
            choice = await self._choose(job_id, resolved, candidates, policy_request, revision, auth)
            # The tenant's concurrency, last: a slot is taken only for a job about to start.
            queued_behind = choice.queued_behind
            if queued_behind and slot.taken:  # a second attempt found the runner busy
                slot.taken = False
                self.stats.give_slot(auth.tenant_id)
            elif not queued_behind and start_at_once and not slot.taken:
                slot.taken = await self.stats.take_slot(auth.tenant_id)
                queued_behind = not slot.taken
            elif not queued_behind and not start_at_once:
                queued_behind = not self.stats.has_room(auth.tenant_id)
            if queued_behind:
                await self._check_queue_depth(auth.tenant_id, choice.healthy)
            try:
                row = await self._record(
                    auth,
                    request,
                    resolved,
                    choice,
                    job_id,
                    month,
                    quotas,
                    now,
                    deadline,
                    webhook,
                    idempotency_key,
                    on_admitted,
                    purpose.value,
                    slot.taken,
                )
            except quota.QuotaExhaustedError as exc:
                if attempt == 0:
                    continue  # another job took the room meanwhile: decide again on fresh counts
                raise RetryLaterError(str(exc), status=429, retry_after=60, slug="quota-contention") from exc
            return Admitted(row=row, task=choice.task, decision=choice.decision, slot=slot.taken)
        raise AssertionError("unreachable")

    async def _check_webhook(self, request: JobRequest) -> WebhookSubscription | None:
        if request.webhook is None:
            return None
        subscription = WebhookSubscription(
            url=request.webhook.url,
            events=tuple(request.webhook.events) if request.webhook.events is not None else None,
        )
        try:
            subscription.validate(self.outbound)
        except UnsafeUrlError as exc:
            raise JobValidationError("webhook.url", str(exc)) from exc
        except WebhookFilterError as exc:
            raise JobValidationError("webhook.events", str(exc).removeprefix("webhook.events: ")) from exc
        try:
            await vet_url(subscription.url, self.outbound)
        except UnsafeUrlError as exc:
            raise JobValidationError("webhook.url", str(exc)) from exc
        return subscription

    def _check_deadline(self, request: JobRequest, now: dt.datetime) -> dt.datetime | None:
        deadline = request.deadline
        if deadline is None:
            return None
        if deadline.tzinfo is None:
            raise JobValidationError("deadline", "needs a timezone (RFC 3339, e.g. 2026-11-26T12:00:00Z)")
        if deadline <= now:
            raise JobValidationError("deadline", "is already past")
        if (deadline - now).total_seconds() > self.limits.max_deadline_s:
            raise JobValidationError("deadline", f"more than {int(self.limits.max_deadline_s)} s ahead")
        return deadline.astimezone(dt.UTC)

    async def _choose(
        self,
        job_id: str,
        resolved: ResolvedJob,
        candidates: list[RunnerEntry],
        policy_request: PolicyRequest,
        revision: CatalogRevision,
        auth: AuthContext,
    ) -> _Choice:
        engine = revision.policy
        permitted: list[tuple[RunnerEntry, PolicyDecision]] = []
        refused: list[PolicyDecision] = []
        for runner in candidates:
            decision = engine.evaluate(msgspec.structs.replace(policy_request, runner_id=runner.id))
            if decision.permitted:
                permitted.append((runner, decision))
            else:
                refused.append(decision)
        if not permitted:
            best = min(refused, key=rank_key)
            overall = engine.evaluate(
                msgspec.structs.replace(policy_request, runner_id=best.runner_id, max_alternatives=5)
            )
            await self._record_denial(overall, policy_request, auth)
            runners = revision.snapshot.runners
            alternatives = tuple(
                a
                for a in overall.alternatives
                if a.runner_id is None
                or (
                    a.runner_id in runners and all(x in runners[a.runner_id].artifacts for x in a.adapter_ids)
                )
            )
            raise NoPermittedRunnerError(
                f"no runner may serve {resolved.model.id} for {policy_request.purpose.value} "
                f"({overall.decision.value})",
                decision_id=overall.decision_id,
                decision=overall.decision.value,
                reasons=overall.deciding_reasons(),
                alternatives=alternatives,
            )
        ranked: list[tuple[tuple[Any, ...], _Choice]] = []
        beyond_limits: list[JobValidationError] = []
        for runner, decision in permitted:
            pooled = self.pool.get(runner.id)
            if pooled is None:
                continue
            problem = _beyond_limits(pooled.runner.describe().limits, resolved)
            if problem is not None:
                beyond_limits.append(problem)
                continue
            try:
                task = build_task(job_id, resolved, runner)
            except (RunnerCannotServeError, ValueError) as exc:
                log.info("runner %s skipped for %s: %s", runner.id, job_id, exc)
                continue
            healthy = await self.pool.healthy(runner.id)
            backlog = self.stats.backlog(runner.id)
            busy = pooled.saturated or backlog > 0
            warm = self.pool.warm_score(runner.id, resolved.model.id, resolved.adapter_ids)
            price = _price_per_image(runner, resolved)
            key = (not healthy, busy, -warm, price, pooled.running + backlog, runner.id)
            choice = _Choice(runner, decision, task, healthy, queued_behind=not healthy or busy)
            ranked.append((key, choice))
        if not ranked and beyond_limits:
            raise beyond_limits[0]
        if not ranked:
            raise RetryLaterError(
                f"the runners permitted for {resolved.model.id} are not available in this gateway",
                status=503,
                retry_after=30,
                slug="no-runner-available",
            )
        ranked.sort(key=lambda pair: pair[0])
        return ranked[0][1]

    async def _check_queue_depth(self, tenant_id: str, healthy: bool) -> None:
        async with self.sessions() as session:
            queued = await session.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.tenant_id == tenant_id, JobRow.status == "queued")
            )
        if (queued or 0) >= self.tenant_limits.queue_depth(tenant_id):
            raise RetryLaterError(
                f"tenant {tenant_id} has {queued} jobs queued, the most allowed"
                + ("" if healthy else "; the permitted runners are down"),
                status=429 if healthy else 503,
                retry_after=5 if healthy else 30,
                slug="queue-full" if healthy else "runners-unavailable",
            )

    async def _record(
        self,
        auth: AuthContext,
        request: JobRequest,
        resolved: ResolvedJob,
        choice: _Choice,
        job_id: str,
        month: str,
        quotas: dict[str, int | None],
        now: dt.datetime,
        deadline: dt.datetime | None,
        webhook: WebhookSubscription | None,
        idempotency_key: str | None,
        on_admitted: OnAdmitted | None,
        purpose: str,
        started: bool,
    ) -> JobRow:
        decision = choice.decision
        reservations = {a: resolved.num_images for a in decision.agreements_relied_on}
        summary = _decision_summary(decision, choice.runner, resolved)
        row = _transient_row(
            {
                **_NO_VALUES,
                "id": job_id,
                "tenant_id": auth.tenant_id,
                "client_id": auth.client_id,
                "subject": auth.subject,
                "status": "queued",
                "model_id": resolved.model.id,
                "adapters": [
                    {"id": a.id, "scale": scale, "license": a.license} for a, scale in resolved.adapters
                ],
                "runner_id": choice.runner.id,
                "decision_id": decision.decision_id,
                "decision": summary,
                "purpose": purpose,
                "output_use": request.output_use.value,
                "request": resolved.parameters(),
                "task": msgspec.to_builtins(choice.task),
                "webhook": msgspec.to_builtins(webhook) if webhook is not None else None,
                "reservations": reservations,
                "usage_month": month,
                "num_images": resolved.num_images,
                "images": 0,
                "idempotency_key": idempotency_key,
                "cancel_requested": False,
                "restarts": 0,
                "owner": self.owner,
                "heartbeat_at": now,
                "deadline_at": deadline,
                "created_at": now,
            }
        )
        event = NewEvent(
            kind=EventKind.POLICY_DECISION,
            payload={"job_id": job_id, "runner": choice.runner.id, "decision": msgspec.to_builtins(decision)},
            actor_subject=auth.subject,
            client_id=auth.client_id,
            tenant=auth.tenant_id,
            request_id=auth.request_id,
            decision_id=decision.decision_id,
            job_id=job_id,
        )
        # Waited for and handed straight to a runner (healthy, idle, a slot of the tenant held):
        # the row is written `running` here, so the job needs no third durable write for its
        # start. A crash before it ends finds it running and recovery fails it with its reason,
        # as for any job that had started.
        queued_data = webhook_data(row) if webhook is not None else None
        if started:
            row.status = "running"
            row.started_at = now
        started_data = webhook_data(row) if webhook is not None and started else None

        async def admit(context: WorkContext) -> JobRow:
            # The session is asked for only where a statement needs it: a batch whose units need
            # none runs on the writer's own statements alone (no session opened, flushed, closed).
            context.insert(_JOBS, _row_values(row))  # one INSERT for the whole batch
            limited = {a: n for a, n in reservations.items() if quotas.get(a) is not None}
            if limited:  # conditional: checked per job
                await quota.reserve(context.session, limited, quotas, month)
            for agreement_id, amount in reservations.items():
                if agreement_id not in limited:  # no quota: counted once per batch
                    context.add_usage(agreement_id, month, amount)
            if webhook is not None:
                for event_type, data in (("job.queued", queued_data), ("job.started", started_data)):
                    if data is None:
                        continue
                    await enqueue_webhook(
                        context.session,
                        webhook,
                        tenant_id=auth.tenant_id,
                        job_id=job_id,
                        event_type=event_type,
                        data=data,
                        now=now,
                    )
            if on_admitted is not None:
                await on_admitted(context.session, row)
            context.events.append(event)  # appended last in the batch, under the chain lock
            return row

        try:
            await self.writer.run(admit)
        except quota.QuotaExhaustedError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            log.error("job %s not admitted: the decision could not be recorded: %s", job_id, exc)
            raise DecisionNotRecordedError(
                "the decision could not be written to the audit log; nothing was dispatched"
            ) from exc
        return row

    async def _record_denial(
        self, decision: PolicyDecision, request: PolicyRequest, auth: AuthContext
    ) -> None:
        """Denials are audited too, through the group-committing log (best effort: a deny stands)."""
        audit_log = self.audit_log()
        if audit_log is None:
            return
        try:
            await audit_log.append(
                NewEvent(
                    kind=EventKind.POLICY_DECISION,
                    payload={
                        "request": msgspec.to_builtins(request),
                        "decision": msgspec.to_builtins(decision),
                    },
                    actor_subject=auth.subject,
                    client_id=auth.client_id,
                    tenant=auth.tenant_id,
                    request_id=auth.request_id,
                    decision_id=decision.decision_id,
                )
            )
        except Exception:
            log.exception("denial %s not audited", decision.decision_id)


_JOBS = cast(Table, JobRow.__table__)
_JOB_COLUMNS = tuple(column.key for column in _JOBS.columns)
_NO_VALUES: dict[str, Any] = dict.fromkeys(_JOB_COLUMNS)
_JOB_CLASS = JobRow._sa_class_manager  # type: ignore[attr-defined]


def _transient_row(values: dict[str, Any]) -> JobRow:
    """A transient `JobRow` holding `values` (every column), made without its mapped `__init__`:
    that sets each attribute through SQLAlchemy's instrumentation, about 80 us per job against
    5 here. Reads and later assignments behave as on any transient row; the row is never added
    to a session (the writer inserts its values)."""
    row: JobRow = _JOB_CLASS.new_instance()
    row.__dict__.update(values)
    return row


def _row_values(row: JobRow) -> dict[str, Any]:
    values = row.__dict__  # every column is there (`_transient_row`)
    return {key: values[key] for key in _JOB_COLUMNS}


def _quotas(*groups: list[Agreement]) -> dict[str, int | None]:
    return {a.id: a.monthly_quota for group in groups for a in group}


def _beyond_limits(limits: RunnerLimits, resolved: ResolvedJob) -> JobValidationError | None:
    for name, value, bound in (
        ("width", resolved.width, limits.max_width),
        ("height", resolved.height, limits.max_height),
        ("steps", resolved.steps, limits.max_steps),
        ("num_images", resolved.num_images, limits.max_images),
    ):
        if value > bound:
            return JobValidationError(name, f"{value} exceeds {bound}, the most the permitted runners take")
    return None


def _price_per_image(runner: RunnerEntry, resolved: ResolvedJob) -> float:
    if runner.price_per_image_usd is not None:
        return runner.price_per_image_usd
    if runner.price_per_megapixel_usd is not None:
        return runner.price_per_megapixel_usd * resolved.megapixels
    return math.inf


def _decision_summary(decision: PolicyDecision, runner: RunnerEntry, resolved: ResolvedJob) -> dict[str, Any]:
    return {
        "decision": decision.decision.value,
        "licenses": sorted({entry.license for entry in decision.effective_licenses}),
        "agreements": list(decision.agreements_relied_on),
        "obligations": [msgspec.to_builtins(o) for o in decision.obligations],
        "snapshot": decision.snapshot_version,
        "price": {
            "per_image_usd": runner.price_per_image_usd,
            "per_megapixel_usd": runner.price_per_megapixel_usd,
            "megapixels": resolved.megapixels,
        },
        "model_license": resolved.model.license,
    }
