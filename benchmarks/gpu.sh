#!/usr/bin/env bash
# The GPU check, in one go (a few minutes on a CUDA machine; docs/benchmarks.md):
#   1. builds .venv with a CUDA build of torch (scripts/setup.sh with TORCH_SPEC);
#   2. benchmarks/scoring.py --device cuda: a random SmolLM2-1.7B-shaped model in bf16, the scoring
#      engine's throughput and model FLOP utilisation (MFU), one engine call per candidate and then
#      every candidate in one call (--one-call, what --parallel-candidates does);
#   3. benchmarks/parallel.py --device cuda: the same seeded 30-trial search (random sampler) on the
#      bundled review_sentiment task and search_spaces/default.yaml with --parallel-candidates 1 and 8,
#      in one process;
#   4. prints one table (and leaves the JSON files in $OUT).
#
#   bash benchmarks/gpu.sh                 # on a machine with an NVIDIA GPU
#   bash benchmarks/gpu.sh --cpu-smoke     # no GPU: the same steps on the CPU in tiny sizes, no setup
#                                          # (checks the script and the table, measures nothing)
# Environment:
#   TORCH_SPEC  torch requirement for the CUDA build (default: torch, PyPI's CUDA build on Linux;
#               e.g. "torch --index-url https://download.pytorch.org/whl/cu128" for another CUDA)
#   SKIP_SETUP=1  use .venv as it is          OUT=DIR  where the JSON files go (default: a temp dir)
#   TRIALS (30), DEV_LIMIT (120: the whole dev split), KS ("1 8"), REPEATS (1), EXAMPLES (scoring, 872),
#   SPACE (search_spaces/default.yaml), BATCH_SIZE (256 lanes per forward, as scoring.py on cuda)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "benchmarks/gpu.sh: error: $*" >&2; exit 1; }

SMOKE=0
case "${1:-}" in
  "") ;;
  --cpu-smoke) SMOKE=1 ;;
  *) die "unknown argument '$1'; allowed: --cpu-smoke (or none)" ;;
esac

OUT=${OUT:-$(mktemp -d -t promptsearch-gpu-XXXXXX)}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
PY=.venv/bin/python

if [ "$SMOKE" = 1 ]; then
  [ -x "$PY" ] || die "no .venv: run 'bash scripts/setup.sh' first"
  DEVICE=cpu
  SCORING_SIZE=(--shape 1.7b --layers 2 --examples 4 --candidates 2 --repeats 1)
  TRIALS=${TRIALS:-3} DEV_LIMIT=${DEV_LIMIT:-4} KS=${KS:-"1 2"} REPEATS=${REPEATS:-1}
  SPACE=${SPACE:-benchmarks/parallel_space.yaml} BATCH_SIZE=${BATCH_SIZE:-32}
else
  # 0. a GPU at all? (fails in a second, before any download)
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    die "no CUDA GPU here (nvidia-smi is missing or lists no GPU); this check needs one. On a CPU, run benchmarks/parallel.py and benchmarks/scoring.py, or 'bash benchmarks/gpu.sh --cpu-smoke' to test this script"
  fi
  # 1. the environment, with a CUDA build of torch
  if [ -z "${SKIP_SETUP:-}" ]; then
    if [ -x "$PY" ] && "$PY" -c "import torch, sys; sys.exit(1 if torch.version.cuda else 0)" 2>/dev/null; then
      echo "gpu.sh: .venv holds a CPU build of torch; replacing it with '${TORCH_SPEC:-torch}'"
      "$PY" -m pip uninstall -y -q torch
    fi
    TORCH_SPEC=${TORCH_SPEC:-torch} bash scripts/setup.sh
  fi
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null || \
    die "torch in .venv cannot use the GPU ($("$PY" -c 'import torch; print("torch", torch.__version__, "built for CUDA", torch.version.cuda)' 2>&1 | tail -1)); set TORCH_SPEC to a build for this driver (nvidia-smi shows its CUDA version) and run again"
  DEVICE=cuda
  SCORING_SIZE=(--examples "${EXAMPLES:-872}" --repeats 3)
  TRIALS=${TRIALS:-30} DEV_LIMIT=${DEV_LIMIT:-120} KS=${KS:-"1 8"} REPEATS=${REPEATS:-1}
  SPACE=${SPACE:-search_spaces/default.yaml} BATCH_SIZE=${BATCH_SIZE:-256}
fi

echo "gpu.sh: device $DEVICE; results in $OUT"
# 2. scoring engine: per-candidate calls, then every candidate in one call
"$PY" benchmarks/scoring.py --device "$DEVICE" "${SCORING_SIZE[@]}" --skip-lmeval --skip-naive \
  --json "$OUT/scoring.json"
"$PY" benchmarks/scoring.py --device "$DEVICE" "${SCORING_SIZE[@]}" --skip-lmeval --skip-naive --one-call \
  --json "$OUT/scoring_one_call.json"
# 3. the same seeded search, k = 1 vs k = 8
# shellcheck disable=SC2086 # KS is a list of numbers
"$PY" benchmarks/parallel.py --device "$DEVICE" --space "$SPACE" --batch-size "$BATCH_SIZE" --ks $KS --trials "$TRIALS" --dev-limit "$DEV_LIMIT" \
  --repeats "$REPEATS" --json "$OUT/parallel.json"

# 4. one table
"$PY" - "$OUT" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
rows = []
for name, what in (("scoring.json", "one call per candidate"), ("scoring_one_call.json", "all candidates, one call")):
    s = json.loads((out / name).read_text())
    e, d = s["contenders"][0], s["details"]
    rows.append((f"scoring {d['model']}, {what}", f"{e['seconds']:.2f} s", f"{e['tokens_per_s']:,.0f} tok/s",
                 f"MFU {100 * e['fraction_of_peak']:.1f}%"))
p = json.loads((out / "parallel.json").read_text())
a = p["args"]
for r in p["rows"]:
    rows.append((f"search {a['trials']} trials x {a['dev_limit']} dev, --parallel-candidates {r['k']}",
                 f"{r['seconds']:.2f} s", f"x{r['ratio']:.2f} vs k={p['rows'][0]['k']}",
                 f"same trials: {'yes' if r['same_trials'] else 'NO'}; {r['forwards']} forwards"))
w = [max(len(r[i]) for r in rows) for i in range(4)]
print()
for r in rows:
    print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)))
EOF
