#!/usr/bin/env bash
# GPU check of the torch workloads (issue 14), at most ~3 minutes on one CUDA device.
#
#   bash benchmarks/gpu_check_torch.sh          # from the repository root; output under $OUT if set
#
# 1. the gpu-marked torch tests (meta-gradient optimizers, MAML, MetaMD on CUDA vs the CPU / numpy paths);
# 2. MAML (K = 5) and MetaOptOptimizer (H = 8, L = 2; exact, recorded, frozen) plus the meta-gradient
#    optimizers on a >= 1M-parameter MLP on CUDA (benchmarks/torch_peers.py --device cuda), as JSON.
# Needs torch with CUDA; peers (higher, torchopt) are used when importable. Exit status: non-zero if a
# test fails or CUDA is missing. benchmarks/gpu_check.sh (stability) is chained by the coordinator.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
log="$OUT/gpu_check_torch.log"
status=0
{
  echo "== gpu_check_torch $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)" || { echo "no CUDA device"; exit 3; }
  echo "== gpu-marked torch tests"
  timeout 120 python -m pytest -q -m gpu tests/torch -rs -p no:cacheprovider || status=1
  echo "== MAML + MetaOpt + meta-gradient optimizers on CUDA (>= 1M parameters)"
  timeout 90 python benchmarks/torch_peers.py --device cuda --only maml,maml_large,large --repeats 3 --number 5 \
      --json "$OUT/torch_peers_cuda.json" || status=1
  echo "== done, status $status"
  exit "$status"
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
