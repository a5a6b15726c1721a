#!/usr/bin/env bash
# One entry point that sets itself up: creates .venv if needed, installs, then runs.
#   bash run.sh quickstart [--out DIR]  # the main job: a small search on CIFAR-10 (configs/quickstart.yaml)
#   bash run.sh test                    # the test suite
#   bash run.sh setup                   # only create/refresh the environment
# ACTSEARCH_TORCH picks the torch requirement installed first (default torch==2.13.0;
# e.g. ACTSEARCH_TORCH="torch>=2.2" to keep an existing CUDA build).
# Every step prints one line; pip's own output stays quiet unless it fails.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${ACTSEARCH_VENV:-.venv}
PY=${PYTHON:-python3}
ACT="$VENV/bin/actsearch"

say() { echo "run.sh: $*"; }

# Run a step with its output (stdout and stderr: pip's, and setuptools' multi-line
# warnings, which --quiet does not silence) kept aside; shown only if the step fails.
quietly() {
  local log status=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    say "this step failed (exit $status): $*; its output:" >&2
    cat "$log" >&2
  fi
  rm -f "$log"
  return "$status"
}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment $VENV ($PY -m venv)..."
    quietly "$PY" -m venv "$VENV"
  fi
  if [ ! -f "$VENV/.actsearch-installed" ] || [ pyproject.toml -nt "$VENV/.actsearch-installed" ]; then
    say "upgrading pip..."
    quietly "$VENV/bin/pip" install --quiet --upgrade pip
    local torch=${ACTSEARCH_TORCH:-torch==2.13.0}
    say "installing $torch (the largest download, a few minutes on a slow line)..."
    quietly "$VENV/bin/pip" install --quiet "$torch"
    say "installing actsearch and its dependencies (pip install -e .[test])..."
    quietly "$VENV/bin/pip" install --quiet -e ".[test]"
    touch "$VENV/.actsearch-installed"
    say "environment ready: $VENV"
  else
    say "environment up to date: $VENV"
  fi
}

# The run directory of the quickstart: the --out the user gave, else one chosen here, so
# the commands after the search (and printed at its end) can name it.
run_dir_of() {
  local previous=""
  for arg in "$@"; do
    case "$arg" in
      --out=*) echo "${arg#--out=}"; return ;;
    esac
    if [ "$previous" = "--out" ]; then echo "$arg"; return; fi
    previous=$arg
  done
  echo ""
}

next_steps() {
  local run=$1
  echo
  say "the search is done; next (or 'source $VENV/bin/activate' and drop the '$VENV/bin/'):"
  local steps=(
    "open $run/report.html" "the page written just now (top, curves, β)"
    "$ACT top $run" "ranked table (--json for scripts)"
    "$ACT show $run 'max(x, sin(x))'" "everything recorded about one function"
    "$ACT plot $run -o top.png" "the top functions and the search's rewards"
    "$ACT export $run --rank 1 -o act.py" "the best function as a torch module"
  )
  local i width=0
  for ((i = 0; i < ${#steps[@]}; i += 2)); do
    [ "${#steps[i]}" -gt "$width" ] && width=${#steps[i]}
  done
  for ((i = 0; i < ${#steps[@]}; i += 2)); do  # one column of commands, one of comments
    printf "  %-${width}s  # %s\n" "${steps[i]}" "${steps[i + 1]}"
  done
}

quickstart() {
  setup
  # Offline development machines keep a copy of CIFAR-10 in ../shared/data; elsewhere
  # `actsearch data cifar10` downloads it (MD5-verified) into ~/.cache/actsearch.
  if [ -z "${ACTSEARCH_DATA:-}" ] && [ -d ../shared/data/cifar-10-batches-py ]; then
    ACTSEARCH_DATA=$(cd ../shared/data && pwd)
    export ACTSEARCH_DATA
    say "using the CIFAR-10 copy in $ACTSEARCH_DATA (ACTSEARCH_DATA)"
  fi
  say "checking CIFAR-10 (downloads about 170 MB once if missing)..."
  "$ACT" data cifar10
  local run args=("$@")
  run=$(run_dir_of "$@")
  if [ -z "$run" ]; then
    run="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
    args+=(--out "$run")
  fi
  say "searching configs/quickstart.yaml into $run (about 10-12 minutes on a quiet 2-core machine)..."
  local status=0
  "$ACT" run configs/quickstart.yaml "${args[@]}" || status=$?
  if [ "$status" -ne 0 ]; then
    if [ -f "$run/search.db" ]; then
      say "the search stopped early (exit $status); continue it with: $ACT run --resume $run"
    fi
    exit "$status"
  fi
  say "writing the report: $ACT report $run"
  "$ACT" report "$run"
  next_steps "$run"
}

cmd=${1:-quickstart}
shift || true
case "$cmd" in
  setup) setup ;;
  test) setup; exec "$VENV/bin/python" -m pytest "$@" ;;
  quickstart) quickstart "$@" ;;
  *) echo "usage: bash run.sh [quickstart|test|setup] [args...]" >&2; exit 2 ;;
esac
