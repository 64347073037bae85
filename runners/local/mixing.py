"""Which tasks of a batch share a pipeline call when their adapters differ.

A call can route one adapter per batch row (`row_adapters`), so tasks that each switch on one
adapter at most, all resident together with one scale each, share a call. An adapter with layers
in a text encoder cannot: the prompt embeddings are computed once for the call, before the
denoiser, without per-row adapters. Such tasks, and tasks with several adapters, get a call per
adapter set, as before mixing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runners.errors import RunnerError
from runners.local.adapters import (
    AdapterKey,
    ResidentAdapters,
    ScaledAdapterKey,
    StateDictLoader,
    adapter_key,
    scaled_keys,
)
from runners.local.row_adapters import BASE_ROW
from runners.task import AdapterSpec, GenerationTask


def may_mix(
    adapters: tuple[ScaledAdapterKey, ...], residents: ResidentAdapters, denoiser: str, *, unseen: bool
) -> bool:
    """Whether a task with these switched adapters can take rows of a mixed call: one adapter at
    most (a row goes through one), with layers in the denoiser alone (the prompt embeddings are
    shared and computed without per-row adapters). `unseen` answers for an adapter never loaded
    here, whose reach is not known yet."""
    if len(adapters) > 1:
        return False
    if not adapters:
        return True
    artifact_id, sha256, _ = adapters[0]
    reach = residents.reach((artifact_id, sha256))
    return unseen if reach is None else reach <= {denoiser}


@dataclass
class PlannedCall:
    """One pipeline call of a batch: its tasks (indices into the batch), the adapters switched on,
    and, for a mixed call, the adapter each task's rows go through (None: the base model)."""

    tasks: list[int]
    adapters: tuple[AdapterSpec, ...]
    per_task: list[AdapterSpec | None] | None = None

    def rows(self, residents: ResidentAdapters) -> list[str] | None:
        """The peft adapter name of each task's rows, for a mixed call."""
        if self.per_task is None:
            return None
        names = []
        for spec in self.per_task:
            if spec is None:
                names.append(BASE_ROW)
                continue
            slot = residents.slot_of(adapter_key(spec))
            if slot is None:
                raise RunnerError(f"adapter {spec.artifact_id} is not resident for a mixed call")
            names.append(slot)
        return names


def plan_calls(
    tasks: Sequence[GenerationTask],
    residents: ResidentAdapters,
    denoiser: str,
    load_state_dict: StateDictLoader,
) -> tuple[list[PlannedCall], dict[int, RunnerError]]:
    """Split a batch into pipeline calls: one when its tasks share an adapter set; otherwise every
    adapter is made resident first, the tasks that can mix share one call, and each other adapter
    set (an adapter that reaches a text encoder, several adapters in one task, an adapter asked
    for with two scales) gets a call of its own. Tasks whose adapter failed to load are returned
    with the error, apart from the calls."""
    sets = {scaled_keys(task.switched_adapters) for task in tasks}
    if len(sets) == 1:
        return [PlannedCall(list(range(len(tasks))), tasks[0].switched_adapters)], {}
    wanted = tuple(dict.fromkeys(spec for task in tasks for spec in task.switched_adapters))
    failed = residents.make_resident(wanted, load_state_dict)
    failures: dict[int, RunnerError] = {}
    mixed: list[int] = []
    scales: dict[AdapterKey, float] = {}
    apart: dict[tuple[ScaledAdapterKey, ...], list[int]] = {}
    for index, task in enumerate(tasks):
        adapters = task.switched_adapters
        error = next((failed[adapter_key(a)] for a in adapters if adapter_key(a) in failed), None)
        if error is not None:
            failures[index] = error
        elif may_mix(scaled_keys(adapters), residents, denoiser, unseen=False) and all(
            scales.setdefault(adapter_key(a), a.scale) == a.scale for a in adapters
        ):
            mixed.append(index)
        else:
            apart.setdefault(scaled_keys(adapters), []).append(index)
    calls: list[PlannedCall] = []
    if len({scaled_keys(tasks[i].switched_adapters) for i in mixed}) == 1:
        calls.append(PlannedCall(mixed, tasks[mixed[0]].switched_adapters))
    elif mixed:
        per_task = [next(iter(tasks[i].switched_adapters), None) for i in mixed]
        union = tuple(dict.fromkeys(spec for spec in per_task if spec is not None))
        calls.append(PlannedCall(mixed, union, per_task))
    calls += [PlannedCall(indices, tasks[indices[0]].switched_adapters) for indices in apart.values()]
    return calls, failures
