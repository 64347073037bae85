"""The task contract rejects malformed tasks precisely; the breaker and backoff follow their rules."""

from __future__ import annotations

import random

import msgspec
import pytest

from runners.errors import CircuitOpenError, TaskValidationError
from runners.remote.resilience import CircuitBreaker, RetryPolicy, parse_retry_after
from runners.task import AdapterSpec, GenerationTask, HubSource, LocalSource, ModelFamily, PipelineSpec

SHA = "a" * 64
PIPELINE = PipelineSpec(
    artifact_id="base",
    family=ModelFamily.FLUX2,
    source=LocalSource(path="/models/base"),
    weights={"x.safetensors": SHA},
)


def _task(**fields: object) -> GenerationTask:
    values: dict[str, object] = {"task_id": "t1", "pipeline": PIPELINE, "prompt": "p", "steps": 8}
    values.update(fields)
    return GenerationTask(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"width": 500}, "width 500 must be a multiple of 8"),
        ({"steps": 0}, "steps 0 outside"),
        ({"sigmas": (1.0, 0.5)}, "sigmas has 2 values but steps is 8"),
        ({"num_images": 17}, "num_images 17 outside"),
        ({"seed": -1}, "seed -1 outside"),
        ({"task_id": ""}, "task_id is empty"),
    ],
)
def test_malformed_tasks_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(TaskValidationError, match=message):
        _task(**fields)


def test_adapters_and_sources_are_checked() -> None:
    with pytest.raises(TaskValidationError, match=r"not a \.safetensors file"):
        AdapterSpec(artifact_id="l", source=LocalSource(path="/l"), weight_name="l.ckpt", sha256=SHA)
    with pytest.raises(TaskValidationError, match="is not a lowercase hex sha256"):
        AdapterSpec(artifact_id="l", source=LocalSource(path="/l"), weight_name="l.safetensors", sha256="ABC")
    with pytest.raises(TaskValidationError, match="is not a 40-hex commit"):
        HubSource(repo="org/model", revision="main")
    adapter = AdapterSpec(
        artifact_id="l", source=LocalSource(path="/l"), weight_name="l.safetensors", sha256=SHA
    )
    with pytest.raises(TaskValidationError, match="listed twice"):
        _task(adapters=(adapter, adapter))


def test_task_round_trips_through_json() -> None:
    turbo = AdapterSpec(
        artifact_id="turbo",
        source=HubSource(repo="org/turbo", revision="0" * 40),
        weight_name="t.safetensors",
        sha256=SHA,
        scale=1.0,
        always_on=True,
    )
    task = _task(adapters=(turbo,), sigmas=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3), seed=3, num_images=2)

    decoded = msgspec.json.decode(msgspec.json.encode(task), type=GenerationTask)

    assert decoded == task
    assert decoded.always_on_adapters == (turbo,)
    assert decoded.image_seeds() == (3, 4)


def test_breaker_opens_then_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=10, clock=lambda: now[0])
    breaker.before_call("r")
    breaker.record_failure()
    breaker.before_call("r")
    breaker.record_failure()
    with pytest.raises(CircuitOpenError):
        breaker.before_call("r")
    now[0] = 11.0
    breaker.before_call("r")  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.before_call("r")  # only one at a time
    breaker.record_success()
    assert breaker.state == "closed"


def test_backoff_is_capped_jittered_and_yields_to_retry_after() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=4.0, max_retry_after_s=20.0)
    rng = random.Random(1)
    delays = [policy.delay(retry, None, rng) for retry in range(1, 30)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert policy.delay(1, 7.0, rng) == 7.0
    assert policy.delay(1, 99.0, rng) == 20.0
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0) == 6.0
    assert parse_retry_after("soon") is None
