#!/usr/bin/env bash
# One entry point that sets itself up: creates .venv if needed, installs, then runs.
#   bash run.sh quickstart   # the main job: a small search on CIFAR-10 (configs/quickstart.yaml)
#   bash run.sh test         # the test suite
#   bash run.sh setup        # only create/refresh the environment
# ACTSEARCH_TORCH picks the torch requirement installed first (default torch==2.13.0;
# e.g. ACTSEARCH_TORCH="torch>=2.2" to keep an existing CUDA build).
set -euo pipefail
cd "$(dirname "$0")"
VENV=${ACTSEARCH_VENV:-.venv}
PY=${PYTHON:-python3}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  if [ ! -f "$VENV/.actsearch-installed" ] || [ pyproject.toml -nt "$VENV/.actsearch-installed" ]; then
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "${ACTSEARCH_TORCH:-torch==2.13.0}"
    "$VENV/bin/pip" install --quiet -e ".[test]"
    touch "$VENV/.actsearch-installed"
  fi
}

cmd=${1:-quickstart}
shift || true
case "$cmd" in
  setup) setup ;;
  test) setup; exec "$VENV/bin/python" -m pytest "$@" ;;
  quickstart)
    setup
    # Offline development machines keep a copy of CIFAR-10 in ../shared/data; elsewhere
    # `actsearch data cifar10` downloads it (MD5-verified) into ~/.cache/actsearch.
    if [ -z "${ACTSEARCH_DATA:-}" ] && [ -d ../shared/data/cifar-10-batches-py ]; then
      ACTSEARCH_DATA=$(cd ../shared/data && pwd)
      export ACTSEARCH_DATA
      echo "run.sh: using the CIFAR-10 copy in $ACTSEARCH_DATA (ACTSEARCH_DATA)"
    fi
    "$VENV/bin/actsearch" data cifar10
    exec "$VENV/bin/actsearch" run configs/quickstart.yaml "$@" ;;
  *) echo "usage: bash run.sh [quickstart|test|setup] [args...]" >&2; exit 2 ;;
esac
