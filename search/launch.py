"""Set up one search from a config (or a run directory to resume) and run it.

Owns the order of things: check the config (a new search needs a stop rule) or,
to resume, the stored config (the store is checked first); take the run's lock
(a second driver is refused here, before Ray starts); check the data and the
evaluate target (user mistakes fail here, before anything is written); build
space, strategy and backend; open the store and save the resolved config with
the code version; run; shut everything down.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace as dc_replace
from pathlib import Path

from evaluator import DataError, TableTask, TaskConfig, UserTask, find_dataset_dir
from evaluator.usertask import import_function
from search.backends import Backend, InlineBackend
from search.child import import_target
from search.config import DEFAULT_EVALUATE, RunConfig, config_from_dict, replace, to_dict, to_yaml
from search.errors import UserError
from search.progress import Progress
from search.ray_backend import RayBackend
from search.runner import Runner
from search.store import CONFIG_NAME, DB_NAME, RunLock, Store
from search.version import code_version
from space import FunctionPool, SearchSpace, SpaceError, read_pool
from space.enumerate import unique_functions

SMALL_SPACE = 20_000  # token sequences counted up front for the progress bar's total


class LaunchError(UserError, ValueError):
    """A run that cannot start as asked (one line: what, where, how to fix)."""


def build_space(config: RunConfig) -> SearchSpace | FunctionPool:
    """The operator space, or the pool of functions the config lists."""
    if config.space.functions is not None:
        return FunctionPool(config.space.functions)
    return SearchSpace(config.space.units, config.space.unary, config.space.binary)


def with_pool(config: RunConfig) -> RunConfig:
    """A new run's ``space.pool`` file read into ``space.functions``, so the run keeps
    the functions it started with (a resume does not read the file again)."""
    if config.space.pool is None or config.space.functions is not None:
        return config
    try:
        functions = read_pool(Path(config.space.pool).expanduser())
    except SpaceError as error:
        raise LaunchError(f"space.pool: {error}") from None
    return replace(config, "space", functions=tuple(functions))


def with_prior(config: RunConfig) -> RunConfig:
    """A new run's ``surrogate.prior`` as an absolute path (a resume from another
    directory reads the same file)."""
    if config.surrogate.prior is None:
        return config
    return replace(config, "surrogate",
                   prior=str(Path(config.surrogate.prior).expanduser().resolve()))


def read_prior_of(config: RunConfig):
    """The controller's ``Prior`` of ``surrogate.prior``, or None (torch: after preflight)."""
    if config.surrogate.prior is None:
        return None
    from controller.prior import Prior
    from search.prior import read_prior

    return Prior.from_rewards(read_prior(config.surrogate.prior))


def task_for_children(config: RunConfig) -> dict:
    """The task as plain data for workers: torch threads follow ``backend.num_cpus``; a
    relative ``data_dir`` or table ``path`` that exists here is made absolute (workers may
    start elsewhere)."""
    task = config.task
    if isinstance(task, (TaskConfig, UserTask)):
        task = dc_replace(task, threads=max(1, int(config.backend.num_cpus)))
    field = "path" if isinstance(task, TableTask) else "data_dir"
    where = getattr(task, field, None)
    if where is not None and Path(where).expanduser().exists():
        task = dc_replace(task, **{field: str(Path(where).expanduser().resolve())})
    return task.to_dict()


def space_functions(config: RunConfig, space: SearchSpace) -> int | None:
    """The distinct functions an exhaustive search of a small space will finish (the
    progress bar's end, see ``Progress.total``); None for other searches."""
    if config.strategy.name != "exhaustive" or space.size > SMALL_SPACE:
        return None
    by = "fingerprint" if config.dedup == "fingerprint" else "canonical"
    return sum(1 for _ in unique_functions(space, by=by))


@contextmanager
def shipped_code(runtime_env: dict | None) -> Iterator[None]:
    """The code a ``runtime_env`` ships to the workers, importable here for a while: its
    local ``working_dir`` and the folders above its local ``py_modules`` go on ``sys.path``
    (where Ray puts them on a worker), so the preflight finds a task that lives only there."""
    env = runtime_env or {}
    folders = []
    if isinstance(env.get("working_dir"), str) and Path(env["working_dir"]).is_dir():
        folders.append(str(Path(env["working_dir"]).resolve()))
    for module in env.get("py_modules") or []:
        if isinstance(module, str) and Path(module).exists():
            folders.append(str(Path(module).resolve().parent))
    saved = list(sys.path)
    sys.path[:0] = folders
    try:
        yield
    finally:
        sys.path[:] = saved


def preflight(config: RunConfig) -> None:
    """Check what would otherwise fail in every child: the evaluate target and the data
    (with the code the backend's ``runtime_env`` ships importable, as on a worker)."""
    with shipped_code(config.backend.runtime_env if config.backend.kind == "ray" else None):
        _preflight(config)


def _preflight(config: RunConfig) -> None:
    """A driver that joins a cluster may have no data set: the nodes' copies are checked
    by their first child (a node without one stops the search, naming the node)."""
    import_target(config.evaluate)  # TargetError: a one-line message
    joins = config.backend.kind == "ray" and config.backend.address is not None
    if config.evaluate != DEFAULT_EVALUATE or (joins and isinstance(config.task, TaskConfig)):
        return
    task = config.task
    try:
        if isinstance(task, TaskConfig):
            find_dataset_dir(task.dataset, task.data_dir)
        elif isinstance(task, UserTask):
            import_function(task.name)
        else:
            task.load()  # a table that cannot be used fails here, naming file:line
    except DataError as error:
        raise LaunchError(f"task.data_dir: {error}") from None
    except (ImportError, ValueError) as error:
        raise LaunchError(f"task: {' '.join(str(error).split())}") from None


def make_backend(config: RunConfig, task: dict) -> Backend:
    backend = config.backend
    if backend.kind == "inline":
        return InlineBackend(config.evaluate, task)
    return RayBackend(config.evaluate, task, address=backend.address, workers=backend.workers,
                      num_cpus=backend.num_cpus, num_gpus=backend.num_gpus,
                      max_retries=backend.max_retries, timeout_s=backend.timeout_s,
                      runtime_env=backend.runtime_env, dashboard=backend.dashboard)


def check_stop_rule(config: RunConfig) -> None:
    """Refuse a new search that nothing would stop: no budget limit, a strategy that never
    runs dry (all but exhaustive), and no ``budget.unlimited: true`` saying it is meant.
    (A resumed run was accepted when it started and is not checked again.)"""
    if config.budget.limited or config.budget.unlimited or config.strategy.name == "exhaustive":
        return
    raise LaunchError(f"budget: nothing stops this search (strategy {config.strategy.name!r} "
                      "never runs dry and no limit is set); set budget.max_evaluations (e.g. "
                      "500), max_seconds or max_proposals, or budget.unlimited: true to run "
                      "until Ctrl-C")


def new_run_dir(config: RunConfig, out: str | None) -> Path:
    """``--out`` or ``runs/<name>-<time>``; refuses a directory that already holds a search.
    Without ``--out`` the name must be a plain label (``check_run_name``)."""
    if not out:
        check_run_name(config.name)
    run_dir = Path(out) if out else Path("runs") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if (run_dir / DB_NAME).exists():
        raise LaunchError(f"{run_dir} already holds a search; continue it with "
                          f"`actsearch run --resume {run_dir}` or choose another --out")
    return run_dir


RUN_NAME_MAX = 100  # characters of a name (a file name has at most 255 bytes)


def check_run_name(name: str) -> None:
    """A ``name`` that makes ``runs/<name>-<time>`` a folder inside ``runs/``: refused (not
    rewritten, so the folder is called what the config says) when it holds a path separator,
    is ``.``/``..`` or hidden (``.x``), holds control characters (NUL, newline) or is empty
    or very long. ``--out`` puts a run anywhere; ``name`` never does."""
    problem = ("is empty" if not name.strip() else
               f"is longer than {RUN_NAME_MAX} characters" if len(name) > RUN_NAME_MAX else
               "holds a path separator (/ or \\)" if "/" in name or "\\" in name else
               "starts with a dot" if name.startswith(".") else
               "holds a control character" if not name.isprintable() else None)
    if problem is not None:
        shown = repr(name) if len(name) <= 40 else repr(name[:40]) + "..."
        raise LaunchError(f"name: {shown} {problem}; the name labels the run directory "
                          "runs/<name>-<time>, so it must be a plain label (letters, digits, "
                          "'-', '_'), or give the directory with --out")


def saved_config(run_dir: Path) -> RunConfig:
    """The config a run directory was started with."""
    if not os.path.lexists(run_dir / DB_NAME):  # a link to nothing: Store says so
        raise LaunchError(f"--resume {run_dir}: no search there (no {DB_NAME}); give the "
                          "directory a previous `actsearch run` printed")
    with Store(run_dir) as store:  # opening checks the store's pages (PRAGMA quick_check)
        data = store.config()
        store.candidates(), store.evaluations()  # and every row reads back: before Ray starts
    if data is None:
        raise LaunchError(f"--resume {run_dir}: the store holds no config; start a new run")
    return config_from_dict(data)


def save_config_file(run_dir: Path, store: Store) -> None:
    """``RUN_DIR/config.yaml``: the run's resolved config (its first invocation's), written
    once, so ``actsearch eval EXPR --config RUN_DIR/config.yaml`` trains a child as the
    search did. The store's copy stays the truth (a resume reads that one)."""
    path = run_dir / CONFIG_NAME
    row = store.first_run()
    if row is not None and not path.exists():
        path.write_text("# The resolved config of this run (every key), written when it "
                        "started.\n# A resume reads the copy in search.db; editing this file "
                        "changes nothing.\n" + row["config_yaml"])


def run_search(config: RunConfig | None, *, out: str | None = None,
               resume: str | None = None, address: str | None = None,
               workers: int | None = None, argv: list[str] | None = None,
               on_start: Callable[[Path, RunConfig, Progress], None] | None = None,
               on_update: Callable[[Progress], None] | None = None) -> tuple[Path, Progress]:
    """Start (``config``) or continue (``resume``) a search; the run directory and progress."""
    if resume is not None:
        run_dir = Path(resume)
        config = saved_config(run_dir)  # a missing or damaged store is one line (quick_check)
    else:
        assert config is not None
        check_stop_rule(config)
        config = with_prior(with_pool(config))
        run_dir = new_run_dir(config, out)
    lock = RunLock(run_dir)  # before anything starts (Ray): a second driver is refused at once
    try:
        if address is not None:
            config = replace(config, "backend", address=address, kind="ray")
        if workers is not None:
            config = replace(config, "backend", workers=workers)
        preflight(config)
        from controller import make_strategy  # torch: after the checks, which fail without it

        space = build_space(config)
        strategy = make_strategy(config.strategy, space, config.surrogate,
                                 read_prior_of(config))
        task = task_for_children(config)
        backend = make_backend(config, task)
    except BaseException:
        lock.release()  # a run that could not start leaves no run directory behind
        raise
    try:
        with Store(run_dir, writer=True, lock=lock) as store:
            store.add_run(to_yaml(config), json.dumps(to_dict(config)), code_version(),
                          argv if argv is not None else sys.argv)
            save_config_file(run_dir, store)
            runner = Runner(config, store, backend, strategy, space, task, on_update=on_update)
            runner.progress.space_functions = space_functions(config, space)
            if on_start is not None:
                on_start(run_dir, config, runner.progress)
            progress = runner.run()
    finally:
        backend.shutdown()
        lock.release()
    return run_dir, progress
