#!/usr/bin/env bash
# GPU check of matrix-free sequential stability (issue 11), at most ~8 minutes on one CUDA device.
#
#   bash benchmarks/gpu_check.sh            # from anywhere; output (log + JSON) under $OUT if set
#   bash benchmarks/gpu_check.sh --tiny     # the same steps on the CPU at toy sizes (seconds): checks the script
#
# 1. every gpu-marked test (tests/ -m gpu: the CUDA paths against the CPU / numpy ones);
# 2. benchmarks/gpu_check_torch.sh (the torch workloads of issue 14) when it exists;
# 3. benchmarks/seq_stability_operator.py with device="cuda": float32 Hessian-vector products on the GPU,
#    the Krylov bounds in float64 on the host — 10^5 parameters at T = 20 (all 210 intervals to rtol 1e-3)
#    and 10^6 parameters at T = 5 (the host-side reorthogonalisation of 3·10^6-long vectors dominates there).
# Each step has a hard timeout (90 + 180 + 120 + 90 s = 8 minutes at most).
# Exit status: non-zero if a step fails or CUDA is missing (not with --tiny).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export OPENBLAS_NUM_THREADS=1 MPLBACKEND=Agg
tiny=0
[ "${1:-}" = "--tiny" ] && tiny=1
log="$OUT/gpu_check.log"
status=0
bench=benchmarks/seq_stability_operator.py
{
  echo "== gpu_check $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?') tiny=$tiny"
  uptime
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  if [ "$tiny" = 1 ]; then
    dev=cpu
  else
    dev=cuda
    python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)" || { echo "no CUDA device"; exit 3; }
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  fi
  echo "== gpu-marked tests"
  timeout 90 python -m pytest -q -m gpu tests -rs -p no:cacheprovider || status=1   # on a CPU: all skip
  if [ -f benchmarks/gpu_check_torch.sh ] && [ "$tiny" = 0 ]; then
    echo "== benchmarks/gpu_check_torch.sh"
    OUT="$OUT/torch" timeout 180 bash benchmarks/gpu_check_torch.sh || status=1
  fi
  echo "== sequential stability on $dev (operator path, float32 HVPs, float64 bounds)"
  if [ "$tiny" = 1 ]; then
    timeout 120 python "$bench" --device cpu --n 500 --T 3 --hvp-dtype float32 --batch 32 \
        --json "$OUT/seq_stability_tiny.json" || status=1
  else
    timeout 120 python "$bench" --device cuda --n 100k --T 20 --hvp-dtype float32 --threads 8 \
        --json "$OUT/seq_stability_cuda_100k.json" || status=1
    timeout 90 python "$bench" --device cuda --n 1m --T 5 --hvp-dtype float32 --threads 8 \
        --json "$OUT/seq_stability_cuda_1m.json" || status=1
  fi
  echo "== done, status $status"
  exit "$status"
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
