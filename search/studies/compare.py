"""``actsearch rerank`` and ``actsearch compare``: studies built from a run and baselines.

* rerank: the run's top-k and the baselines, retrained with fresh seeds (and
  optionally more steps) on the run's task; ranked by mean reward with the
  standard deviation, a 95% interval and which other ranks it overlaps.
* compare: functions (a run's top-k or texts) and the baselines on several
  models; the median over seeds per model (the paper's Table 1) and, per
  baseline, on how many models each function is better / equal / worse with a
  one-sided paired sign test (its Table 3).

Both save their arms and seeds in their own store, so ``top`` can show a
rerank later and running a command again resumes it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from evaluator import TaskConfig, with_budget
from search.config import RunConfig
from search.errors import UserError
from search.store import DB_NAME, Store
from search.studies.stats import sign_test, summarize
from search.studies.study import Arm, Cell, cell
from space import BASELINES, baseline, parse

DEFAULT_BASELINES = ("ReLU", "Swish-1", "Swish")
RERANK_DIR = "rerank"


class StudyError(UserError, ValueError):
    """A rerank or compare that cannot run as asked (one line)."""


def parse_baselines(text: str | None) -> list[str]:
    """"none", a comma list of names (any case, e.g. relu,prelu,swish), or "all"."""
    if text is None:
        return list(DEFAULT_BASELINES)
    if text.strip().lower() == "none":
        return []
    if text.strip().lower() == "all":
        return list(BASELINES)
    names = []
    for name in (n.strip() for n in text.split(",") if n.strip()):
        try:
            expr = baseline(name)
        except ValueError as error:
            raise StudyError(f"--baselines: {error}") from None
        names.append(next(k for k in BASELINES if parse(BASELINES[k]) == expr))
    return names


def model_tasks(config: RunConfig, models: Sequence[int] | None,
                steps: int | None) -> list[tuple[str, dict]]:
    """(variant label, task) per model depth; the run's own model when ``models`` is None."""
    from search.launch import task_for_children

    task = task_for_children(config)
    if config.halving is not None and steps is None:
        steps = config.halving.rungs[-1]  # the ranking's fidelity: the top rung
    if steps is not None:
        task = with_budget(task, steps)
    if not models:
        label = f"ResNet-{task['depth']}" if isinstance(config.task, TaskConfig) else ""
        return [(label, task)]
    if not isinstance(config.task, TaskConfig):
        raise StudyError("--models applies to the built-in CIFAR task only; this run's task "
                         "is its own model")
    variants = []
    for depth in models:
        try:
            TaskConfig.from_dict({**config.task.to_dict(), "depth": depth})
        except ValueError as error:
            raise StudyError(f"--models: {error}") from None
        variants.append((f"ResNet-{depth}", {**task, "depth": depth}))
    return variants


def arms_for(functions: Sequence[tuple[str, str]], baselines: Sequence[str],
             variants: Sequence[tuple[str, dict]]) -> list[Arm]:
    """Every (function or baseline) x variant; a function equal to a baseline (or listed
    twice) appears once, under the baseline's name."""
    base = {parse(BASELINES[name]).canonical: (name, parse(BASELINES[name]))
            for name in baselines}
    unique = {}
    for label, text in functions:
        expr = parse(text)
        if expr.canonical not in base:
            unique.setdefault(expr.canonical, (label, expr))
    unique = [*unique.values(), *base.values()]
    return [Arm(label, expr, variant, task) for label, expr in unique
            for variant, task in variants]


def top_functions(run_dir: Path, k: int) -> list[tuple[str, str]]:
    """(label, text) of a run's ``k`` best functions."""
    with Store(run_dir) as store:
        top = store.top(k)
    if not top:
        raise StudyError(f"{run_dir}: no finished functions to take the top {k} from")
    return [(c.text, c.text) for c in top]


# -- saving and loading a study's definition ------------------------------------------------


def save_study(store: Store, kind: str, arms: Sequence[Arm], seeds: Sequence[int],
               functions: Sequence[str], baselines: Sequence[str], argv: Sequence[str]) -> None:
    spec = {"kind": kind, "seeds": list(seeds), "functions": list(functions),
            "baselines": list(baselines),
            "arms": [{"label": a.label, "text": a.expr.text, "variant": a.variant,
                      "task": a.task} for a in arms]}
    store.add_run(json.dumps(spec, indent=1), json.dumps(spec), "", argv)


def load_study(store: Store) -> tuple[list[Arm], list[int], list[str], list[str]]:
    """(arms, seeds, function labels, baseline labels) of the latest invocation."""
    row = store.db.execute("SELECT config_json FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        raise StudyError(f"{store.run_dir}: the store holds no study definition")
    spec = json.loads(row["config_json"])
    arms = [Arm(a["label"], parse(a["text"]), a["variant"], a["task"]) for a in spec["arms"]]
    return arms, spec["seeds"], spec["functions"], spec["baselines"]


def rerank_dir(run_dir: Path) -> Path:
    return run_dir / RERANK_DIR


def has_rerank(run_dir: Path) -> bool:
    return (rerank_dir(run_dir) / DB_NAME).exists()


# -- reports ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _failures(c: Cell) -> str:
    notes = []
    if c.diverged:
        steps = ", ".join(str(s) for s in c.diverged)
        notes.append(f"diverged {len(c.diverged)}x (step {steps})")
    if c.failed:
        notes.append(f"{len(c.failed)} failed ({c.failed[0][:80]})")
    return "; ".join(notes)


def rerank_table(store: Store) -> str:
    """Functions ranked by mean reward over seeds, with spread, interval and overlaps."""
    arms, seeds, _, baselines = load_study(store)
    rows = []
    for arm in arms:
        c = cell(store, arm, seeds)
        summary = summarize(c.rewards) if c.rewards else None
        rows.append((arm, c, summary))
    rows.sort(key=lambda r: -(r[2].mean if r[2] is not None else -1.0))
    lines = [f"re-ranked with {len(seeds)} fresh seeds ({seeds[0]}..{seeds[-1]}) on "
             f"{arms[0].variant or 'the run task'}, {arms[0].task.get('steps', '?')} steps; "
             "reward in %; 95% interval of the mean (Student t); "
             "'overlaps' lists the ranks whose intervals overlap this one", "",
             "| rank | function | n | mean | std | 95% interval | overlaps | notes |",
             "|---:|---|---:|---:|---:|---|---|---|"]
    for rank, (arm, c, s) in enumerate(rows, start=1):
        overlaps = [str(other) for other, (_, _, t) in enumerate(rows, start=1)
                    if other != rank and s is not None and t is not None and s.overlaps(t)]
        name = f"{arm.label} (baseline)" if arm.label in baselines else f"`{arm.label}`"
        interval = "-" if s is None else f"[{100 * s.low:.2f}, {100 * s.high:.2f}]"
        lines.append(f"| {rank} | {name} | {len(c.rewards)}/{len(seeds)} | "
                     f"{_pct(s.mean if s else None)} | {_pct(s.std if s else None)} | "
                     f"{interval} | {', '.join(overlaps) or '-'} | {_failures(c)} |")
    return "\n".join(lines)


def compare_tables(store: Store) -> str:
    """Median reward per model (Table 1) and the sign test against each baseline (Table 3)."""
    arms, seeds, functions, baselines = load_study(store)
    variants = list(dict.fromkeys(a.variant for a in arms))
    labels = list(dict.fromkeys(a.label for a in arms))
    cells = {(a.label, a.variant): cell(store, a, seeds) for a in arms}
    head = "| function | " + " | ".join(variants) + " |"
    lines = [f"median reward (%) over {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), "
             f"{arms[0].task.get('steps', '?')} steps", "", head,
             "|---|" + "---:|" * len(variants)]
    for label in labels:
        row = []
        for variant in variants:
            c = cells[(label, variant)]
            note = _failures(c)
            row.append(_pct(c.median) + (f" ({note})" if note else ""))
        name = f"{label} (baseline)" if label in baselines else f"`{label}`"
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    lines += ["", "mean ± standard deviation (%) over the seeds that finished", "", head,
              "|---|" + "---:|" * len(variants)]
    for label in labels:
        row = []
        for variant in variants:
            rewards = cells[(label, variant)].rewards
            spread = summarize(rewards) if rewards else None
            row.append("-" if spread is None else
                       f"{100 * spread.mean:.2f} ± {100 * spread.std:.2f} (n={spread.n})")
        name = f"{label} (baseline)" if label in baselines else f"`{label}`"
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    challengers = [f for f in functions if f in labels]
    if challengers and baselines:
        lines += ["", f"each function against each baseline over the {len(variants)} "
                  "model(s): better / equal / worse median, and the one-sided sign test's p",
                  "", "| function | " + " | ".join(baselines) + " |",
                  "|---|" + "---|" * len(baselines)]
        for label in challengers:
            row = []
            for base in baselines:
                pairs = [(cells[(label, v)].median, cells[(base, v)].median) for v in variants]
                pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
                if label == base or not pairs:
                    row.append("-")
                    continue
                test = sign_test([a for a, _ in pairs], [b for _, b in pairs])
                row.append(f"{test.better} / {test.equal} / {test.worse} (p={test.p_value:.2f})")
            lines.append(f"| `{label}` | " + " | ".join(row) + " |")
    return "\n".join(lines)


def run_and_report(store_dir: Path, kind: str, arms: list[Arm], seeds: tuple[int, ...],
                   functions: Sequence[str], baselines: Sequence[str], config: RunConfig,
                   argv: Sequence[str], on_result: Callable[[int, int], None] | None) -> str:
    """Run (or resume) a study in ``store_dir`` and return its report."""
    from search.launch import make_backend, preflight
    from search.studies.study import run_study

    preflight(config)
    backend = make_backend(config, arms[0].task)
    try:
        with Store(store_dir, writer=True) as store:
            save_study(store, kind, arms, seeds, functions, baselines, argv)
            run_study(store, arms, seeds, backend, config.backend.workers, on_result)
            return rerank_table(store) if kind == "rerank" else compare_tables(store)
    finally:
        backend.shutdown()


def variant_config(config: RunConfig, **backend: object) -> RunConfig:
    """The config with backend overrides that are not None."""
    changes = {k: v for k, v in backend.items() if v is not None}
    if not changes:
        return config
    return dataclasses.replace(config, backend=dataclasses.replace(config.backend, **changes))
