"""Adapters: switching, reproducible back-switch, wrong adapters caught, bounded residency,
hot-swap slots, in-place loads into a slot of the same layout and always-on fusion."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

from runners.errors import AdapterMismatchError
from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.local.adapters import count_attached_layers
from runners.local.pipelines import AdapterStore
from runners.task import ModelFamily
from runners.tiny import TINY_FAMILIES, TinyModelSet
from tests.runners.support_runner_tasks import DEVICE, close, make_task, pixels


@pytest.mark.parametrize("family", [ModelFamily.SD1, ModelFamily.FLUX2], ids=lambda f: f.value)
async def test_switching_changes_output_and_switching_back_reproduces(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet, family: ModelFamily
) -> None:
    model = tiny_models[family]
    first, second = model.adapters[0], model.adapters[1]

    plain = pixels(await runner.submit(make_task(model.pipeline)))
    with_first = pixels(await runner.submit(make_task(model.pipeline, (first,))))
    with_second = pixels(await runner.submit(make_task(model.pipeline, (second,))))
    first_again = pixels(await runner.submit(make_task(model.pipeline, (first,))))
    plain_again = pixels(await runner.submit(make_task(model.pipeline)))
    half = pixels(
        await runner.submit(make_task(model.pipeline, (msgspec.structs.replace(first, scale=0.5),)))
    )

    assert not close(plain, with_first)
    assert not close(with_first, with_second)
    assert not close(with_first, half)
    assert close(with_first, first_again)
    assert close(plain, plain_again)


@pytest.mark.parametrize(
    ("adapter_family", "pipeline_family"),
    [
        (ModelFamily.SD1, ModelFamily.FLUX1),
        (ModelFamily.FLUX1, ModelFamily.FLUX2),
        (ModelFamily.FLUX2, ModelFamily.SD1),
    ],
    ids=lambda f: f.value,
)
async def test_adapter_for_another_model_fails_the_task(
    runner: LocalDiffusersRunner,
    tiny_models: TinyModelSet,
    adapter_family: ModelFamily,
    pipeline_family: ModelFamily,
) -> None:
    wrong = tiny_models[adapter_family].adapters[0]
    pipeline = tiny_models[pipeline_family].pipeline

    with pytest.raises(AdapterMismatchError, match=wrong.artifact_id):
        await runner.submit(make_task(pipeline, (wrong,)))

    warm = runner.cache.warm()[0]
    assert warm.adapters.resident_ids() == ()
    assert warm.pipe.get_list_adapters() == {}
    result = await runner.submit(make_task(pipeline))  # the pipeline is still usable
    assert len(result.images) == 1


@pytest.mark.parametrize("hotswap", [False, True], ids=["delete", "hotswap"])
async def test_resident_adapters_stay_bounded(tiny_models: TinyModelSet, hotswap: bool) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    runner = LocalDiffusersRunner(
        LocalRunnerSettings(device=DEVICE, max_resident_adapters=2, hotswap=hotswap, hotswap_target_rank=8)
    )
    try:
        await runner.submit(make_task(model.pipeline))
        warm = runner.cache.warm()[0]
        adapters = model.adapters  # three, ranks 4, 8, 4
        outputs = {}
        for adapter in adapters + adapters[:2]:
            result = await runner.submit(make_task(model.pipeline, (adapter,)))
            outputs.setdefault(adapter.artifact_id, []).append(pixels(result))
            loaded = {name for names in warm.pipe.get_list_adapters().values() for name in names}
            assert len(loaded) <= 2
            assert len(warm.adapters.resident_ids()) <= 2
        # Three evictions. Outside hot-swap mode every load after the first two is a copy into an
        # evicted slot: the third adapter into the first's (same layers and rank), the first into
        # the second's rank-8 slot (zero-padded), the second into that slot again.
        assert warm.adapters.evictions == 3
        assert warm.adapters.in_place_loads == (0 if hotswap else 3)
        for adapter in adapters[:2]:  # reloaded after eviction: same pixels as the first time
            first, again = outputs[adapter.artifact_id]
            assert close(first, again)
    finally:
        await runner.close()


async def test_two_adapters_together_with_scales(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet
) -> None:
    model = tiny_models[ModelFamily.SD1]
    a, b = model.adapters[0], msgspec.structs.replace(model.adapters[1], scale=0.7)

    both = pixels(await runner.submit(make_task(model.pipeline, (a, b))))
    only_a = pixels(await runner.submit(make_task(model.pipeline, (a,))))

    assert not close(both, only_a)
    assert runner.describe().active_adapters[model.pipeline.artifact_id] == (a.artifact_id,)


async def test_always_on_adapter_is_fused_once(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet
) -> None:
    model = tiny_models[ModelFamily.FLUX2_KLEIN]
    turbo = msgspec.structs.replace(model.adapters[0], always_on=True)
    switched = model.adapters[0]

    fused = pixels(await runner.submit(make_task(model.pipeline, (turbo,))))
    fused_again = pixels(await runner.submit(make_task(model.pipeline, (turbo,))))
    as_switched = pixels(await runner.submit(make_task(model.pipeline, (switched,))))

    assert close(fused, fused_again)
    assert close(fused, as_switched, atol=4.0)
    assert runner.cache.loads == 2  # a fused pipeline is its own warm pipeline
    assert runner.describe().warm_pipelines == (
        f"{model.pipeline.artifact_id}+{turbo.artifact_id}",
        model.pipeline.artifact_id,
    )
    fused_warm = next(w for w in runner.cache.warm() if w.fused)
    assert fused_warm.pipe.get_list_adapters() == {}
    assert count_attached_layers(fused_warm.pipe, "fused0") == 0


async def test_warm_pipelines_stay_within_the_memory_budget(tiny_models: TinyModelSet) -> None:
    from runners.local.pipelines import module_bytes

    sd, flux = tiny_models[ModelFamily.SD1], tiny_models[ModelFamily.FLUX1]
    runner = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_wait_s=0.0, memory_budget_bytes=1))
    try:
        await runner.submit(make_task(sd.pipeline))
        sd_bytes = module_bytes(runner.cache.warm()[0].pipe)
        await runner.submit(make_task(flux.pipeline))
        assert runner.describe().warm_pipelines == (flux.pipeline.artifact_id,)
    finally:
        await runner.close()

    roomy = LocalDiffusersRunner(
        LocalRunnerSettings(device=DEVICE, max_wait_s=0.0, memory_budget_bytes=sd_bytes * 10)
    )
    try:
        for pipeline in (sd.pipeline, flux.pipeline, sd.pipeline):
            await roomy.submit(make_task(pipeline))
        assert roomy.describe().warm_pipelines == (flux.pipeline.artifact_id, sd.pipeline.artifact_id)
        assert roomy.cache.loads == 2
    finally:
        await roomy.close()


async def test_hotswap_falls_back_to_a_fresh_load_when_targets_differ(
    tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    from diffusers import FluxPipeline

    from runners.tiny import build_tiny_lora

    model = tiny_models[ModelFamily.FLUX1]
    builder = FluxPipeline.from_pretrained(model.path)
    narrow = build_tiny_lora(
        builder,
        ModelFamily.FLUX1,
        tmp_path / "narrow",
        rank=4,
        seed=77,
        artifact_id="narrow",
        targets=("to_q",),
    )
    wide = model.adapters[1]
    outputs = {}
    for hotswap in (False, True):
        runner = LocalDiffusersRunner(
            LocalRunnerSettings(
                device=DEVICE, max_resident_adapters=1, hotswap=hotswap, hotswap_target_rank=8
            )
        )
        try:
            for adapter in (narrow, wide, narrow):
                result = await runner.submit(make_task(model.pipeline, (adapter,)))
                outputs[(hotswap, adapter.artifact_id)] = pixels(result)
            residents = runner.cache.warm()[0].adapters
            assert residents.evictions == 2
            if hotswap:
                assert residents.hotswap_fallbacks >= 1
        finally:
            await runner.close()
    for adapter in (narrow, wide):
        assert close(outputs[(False, adapter.artifact_id)], outputs[(True, adapter.artifact_id)])


@pytest.mark.parametrize("family", list(TINY_FAMILIES), ids=lambda f: f.value)
async def test_adapter_copied_into_a_slot_of_the_same_layout_matches_a_fresh_load(
    tiny_models: TinyModelSet, family: ModelFamily
) -> None:
    model = tiny_models[family]
    first, other_rank, same_rank = model.adapters  # ranks 4, 8, 4: same layers
    fresh: dict[str, np.ndarray] = {}
    roomy = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_resident_adapters=3))
    try:
        for adapter in model.adapters:
            fresh[adapter.artifact_id] = pixels(await roomy.submit(make_task(model.pipeline, (adapter,))))
        assert roomy.cache.warm()[0].adapters.in_place_loads == 0
    finally:
        await roomy.close()

    single = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_resident_adapters=1))
    try:
        order = (first, same_rank, other_rank, first, same_rank)
        outputs = [pixels(await single.submit(make_task(model.pipeline, (a,)))) for a in order]
        residents = single.cache.warm()[0].adapters
        # same_rank is copied into first's slot; other_rank (rank 8) loads fresh; first and
        # same_rank (rank 4) are then copied into other_rank's slot, zero-padded
        assert residents.in_place_loads == 3
        assert residents.loads == 5
        warm = single.cache.warm()[0]
        assert len({name for names in warm.pipe.get_list_adapters().values() for name in names}) == 1
    finally:
        await single.close()
    for adapter, output in zip(order, outputs, strict=True):
        assert close(output, fresh[adapter.artifact_id]), adapter.artifact_id


def test_the_adapter_store_keeps_verified_adapters_within_its_byte_budget(tiny_models: TinyModelSet) -> None:
    first, wide, third = tiny_models[ModelFamily.FLUX1].adapters  # ranks 4, 8, 4: wide is twice the size
    one = sum(t.numel() * t.element_size() for t in AdapterStore(None).load(first).values())
    store = AdapterStore(None, max_bytes=2 * one)

    for adapter in (first, third, first):
        store.load(adapter)
    assert (store.reads, store.held_bytes) == (2, 2 * one)  # both kept: nothing read twice
    store.load(wide)  # the two others make room, least recently used first
    assert (store.reads, store.held_bytes) == (3, 2 * one)
    store.load(first)
    assert store.reads == 4
    too_small = AdapterStore(None, max_bytes=one // 2)
    too_small.load(first)
    too_small.load(first)
    assert (too_small.reads, too_small.held_bytes) == (2, 0)  # read every time, never kept


async def test_a_runner_without_an_adapter_cache_reads_an_evicted_adapter_again(
    tiny_models: TinyModelSet,
) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    first, second, _ = model.adapters
    reads = {}
    for cache_bytes in (0, 2**30):
        runner = LocalDiffusersRunner(
            LocalRunnerSettings(device=DEVICE, max_resident_adapters=1, adapter_cache_bytes=cache_bytes)
        )
        try:
            for adapter in (first, second, first):
                await runner.submit(make_task(model.pipeline, (adapter,)))
            reads[cache_bytes] = runner._store.reads
        finally:
            await runner.close()
    assert reads == {0: 3, 2**30: 2}
