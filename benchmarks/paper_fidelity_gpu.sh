#!/usr/bin/env bash
# The one device call of docs/paper-fidelity.md: decode the compact CIFAR-10 copy, train the
# paper's functions and the baselines at the paper's fidelity, several children on the GPU,
# each row into $OUT as it finishes. Run from the repository root with OUT set (the device
# tool sets it); extra arguments go to paper_fidelity.py (--dry-run: the same on the CPU,
# 3 steps a child). A results file carried as .gpu/paper_fidelity.jsonl is resumed.
set -uo pipefail
OUT=${OUT:?set OUT to the folder that receives the results}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
{
  nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
            "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())'
} 2>&1 | tee "$OUT/env.txt"
# Decoding needs Pillow or torchvision; a wheel carried in .gpu/wheels stands in for both.
if ! "$PY" -c 'import PIL' 2>/dev/null && ! "$PY" -c 'import torchvision' 2>/dev/null; then
  "$PY" -m pip install --quiet --no-index --target .gpu/pylib .gpu/wheels/*.whl
  export PYTHONPATH=.gpu/pylib${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -f .gpu/paper_fidelity.jsonl ] && [ ! -f "$OUT/paper_fidelity.jsonl" ]; then
  cp .gpu/paper_fidelity.jsonl "$OUT/paper_fidelity.jsonl"
fi
# 8 children compile at once on 16 cores: two inductor compile workers each, not 16.
export TORCHINDUCTOR_COMPILE_THREADS=${TORCHINDUCTOR_COMPILE_THREADS:-2}
"$PY" benchmarks/paper_fidelity.py --compact .gpu/cifar10-compact \
  --results "$OUT/paper_fidelity.jsonl" --deadline-s "${DEADLINE_S:-540}" "$@" 2>&1 \
  | tee "$OUT/log.txt"
