#!/usr/bin/env bash
# The runner benchmark, the runner tests and the policy benchmark on a GPU machine of the device
# tool (one prepared run, within GPU_CHECK_BUDGET seconds, 560 by default: the device tool allows
# 600 per command).
#
# That machine has torch (2.11, CUDA), transformers, peft and pytest but not our versions of
# diffusers, transformers, peft, regex and msgspec, so they travel as wheels in .whl/ (ignored by
# git):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl diffusers==0.42.1 msgspec==0.22.0 transformers==5.24.0 peft==0.21.2 \
#     importlib_metadata==8.7.0 regex==2026.11.19 pytest-asyncio==1.5.0
# (importlib_metadata 10 needs lazy-importer, which that machine lacks), then run
# `bash bench/gpu_check.sh` there with `.whl` and `.devinc` carried. Its huggingface_hub is older
# than ours, so the Hub-source test is left out. The policy benchmark alone, in rounds against an
# earlier tree: bench/policy_on_device.sh. Figures of the runs so far: docs/runners.md.
#
# Order, most wanted first: the policy benchmark (#3) on one dedicated core (only msgspec needed),
# the runner benchmark on the GPU (#6: the "(a*)" mixed-adapter stream against "(a)" and the
# single-adapter reference, the "a batch-4 call through four adapters" lines), the runner tests
# in bf16 (tests/runners/test_runners_mixing.py among them), then the streams once more if time
# is left. Each part gets at most what remains of the budget.
START=$SECONDS
BUDGET=${GPU_CHECK_BUDGET:-560}
left() { local rest=$((BUDGET - (SECONDS - START) - 5)); if ((rest > $1)); then echo "$1"; else echo $((rest > 1 ? rest : 1)); fi; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:. || exit 1
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TQDM_DISABLE=1
# the policy engine's C part, built in place (needs gcc and the Python and OpenSSL headers, which
# .devinc/ supplies where that machine lacks them: see bench/build_policy_extension.py)
python3 bench/build_policy_extension.py || echo "the policy benchmark will fail"
OUT=${OUT:-/tmp}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc; grep -m1 "model name" /proc/cpuinfo
python3 -c "import torch, diffusers, transformers, peft; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'cuda', torch.cuda.is_available())"
echo "== policy benchmark, one core ($(date +%T))"
timeout "$(left 75)" taskset -c 0 python3 -m bench.policy --steady-blocks 3 2>&1 | tee "$OUT/bench_policy_device.txt"
echo "== runner benchmark ($(date +%T))"
timeout "$(left 220)" python3 -c "from bench.runners import local_runner; local_runner.main()" 2>&1 | tee "$OUT/bench_runners_gpu.txt"
echo "== runner tests ($(date +%T))"
CLEARANCE_TEST_DEVICE=auto timeout "$(left 180)" python3 -m pytest -q tests/runners --confcutdir=tests/runners -p no:cacheprovider \
  --ignore=tests/runners/test_runners_build_demo.py \
  --deselect tests/runners/test_runners_hub_source.py::test_pipeline_and_adapter_from_a_pinned_hub_revision \
  2>&1 | tee "$OUT/tests_runners_gpu.txt" | tail -40
echo "== streams again, in interleaved rounds ($(date +%T))"
# the streams once more on the same warm card, then five rounds of the single-adapter stream and
# the scheduler's streams in turn: a single round's share moved between 56% and 108% on the H100
BENCH_PARTS=streams BENCH_STREAM_ROUNDS=5 timeout "$(left 100)" python3 -c "from bench.runners import local_runner; local_runner.main()" 2>&1 \
  | tee "$OUT/bench_runners_gpu_streams.txt"
echo "== done after $((SECONDS - START)) s"
