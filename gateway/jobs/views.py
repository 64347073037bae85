"""A job row as the API shows it."""

from __future__ import annotations

from gateway.jobs.erasure import erased
from gateway.jobs.schemas import JobDecisionView, JobLinks, JobView
from registry.jobs.tables import JobRow

JOBS_PATH = "/v1/jobs"


def job_links(job_id: str, num_images: int) -> JobLinks:
    base = f"{JOBS_PATH}/{job_id}"
    return JobLinks(
        status=base,
        events=f"{base}/events",
        cancel=f"{base}/cancel",
        result=base,
        images=[f"{base}/images/{n}" for n in range(num_images)],
    )


def job_view(row: JobRow) -> JobView:
    decision = row.decision or {}
    links = job_links(row.id, row.num_images)
    return JobView(
        id=row.id,
        status=row.status,
        model=row.model_id,
        adapters=list(row.adapters or []),
        runner=row.runner_id,
        purpose=row.purpose,
        output_use=row.output_use,
        parameters=dict(row.request or {}),
        decision=JobDecisionView(
            id=row.decision_id,
            decision=str(decision.get("decision", "")),
            licenses=list(decision.get("licenses", [])),
            agreements=list(decision.get("agreements", [])),
            obligations=list(decision.get("obligations", [])),
        ),
        num_images=row.num_images,
        images=links.images[: row.images] if row.status == "succeeded" and not erased(row) else [],
        cost_usd=row.cost_usd,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        deadline=row.deadline_at,
        links=links,
        restarts=row.restarts or 0,
    )
