#!/usr/bin/env bash
# Issue #3's policy benchmark on a server core: the device tool's machine, one dedicated core,
# in rounds that alternate this tree with an earlier one on the same core when .base/ holds it.
# Prepared here (all three folders are ignored by git, and carried):
#   mkdir -p .base && git archive da2b297 | tar -x -C .base
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl msgspec==0.22.0
#   .devinc/: the Python and OpenSSL headers, where that machine lacks them (see
#   bench/build_policy_extension.py)
# Run there: bash bench/policy_on_device.sh [ROUNDS] (3 by default; POLICY_CORE picks the core, 2
# by default). Each run's output is appended to $OUT/policy_now.txt and $OUT/policy_base.txt.
# One run took about 40 s on the H200 kind's cores (2026-11-28), so ten rounds of this tree alone,
# or four alternating with .base, fit in one call of about seven minutes.
set -u
ROUNDS=${1:-3}
CORE=${POLICY_CORE:-2}
OUT=${OUT:-/tmp}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
  .whl/msgspec-*.whl || exit 1
export PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1
{
  python3 bench/build_policy_extension.py 2>&1 || echo "BUILD FAILED"
  if [ -d .base ]; then  # .base builds its own C part, from its own sources, with this tree's headers
    mkdir -p .base/.devinc && cp -r .devinc/. .base/.devinc/ 2>/dev/null
    (cd .base && python3 bench/build_policy_extension.py) 2>&1 || echo "BUILD FAILED"
  fi
  grep -m1 "model name" /proc/cpuinfo
  echo "cores: $(nproc); kernel $(uname -r); transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>&1)"
} | tee "$OUT/machine.txt"
grep -q "BUILD FAILED" "$OUT/machine.txt" && exit 1
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS, this tree, core $CORE ($(date +%T))"
  taskset -c "$CORE" python3 -m bench.policy --steady-blocks 3 2>&1 | tee -a "$OUT/policy_now.txt"
  if [ -d .base ]; then
    echo "== round $round of $ROUNDS, .base, core $CORE ($(date +%T))"
    (cd .base && taskset -c "$CORE" python3 -m bench.policy --steady-blocks 3) 2>&1 | tee -a "$OUT/policy_base.txt"
  fi
done
