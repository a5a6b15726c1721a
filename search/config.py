"""The run's configuration: one YAML file, one strict loader, frozen dataclasses.

``load_config(path)`` reads YAML into ``RunConfig``; every section is a frozen
dataclass (``strategy`` is ``controller.StrategyConfig`` and ``task`` is
``evaluator.TaskConfig``, owned by those packages). The loader walks the type
hints of each dataclass, so an unknown key, a wrong type or a bad value ends
in one ``ConfigError`` line that names the key's full path::

    quickstart.yaml: strategy.lr: expected a number, got 'fast'

Nothing in the text is evaluated: YAML is parsed with ``yaml.safe_load`` and
each value is checked against the declared type and, for numbers, against the
range its section declares (``RANGES``, see ``search.ranges``). A file with no
keys, and a file whose aliases expand past ``MAX_NODES`` values or
``MAX_BYTES`` of text (a "billion laughs"), are refused before anything else, as
is one nested deeper than ``MAX_DEPTH``. The file is read by
``space.files.read_text``: a regular UTF-8 file (a byte-order mark dropped) of
at most ``MAX_BYTES``; a FIFO or a device (``/dev/zero``) is refused unread.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from controller import StrategyConfig, SurrogateConfig
from evaluator import TableTask, TaskConfig, UserTask, task_class
from search.errors import UserError
from search.ranges import problem
from space import FunctionPool, SearchSpace, SpaceError
from space.files import FileError, read_text

DEFAULT_EVALUATE = "evaluator:run_task"
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
MAX_BYTES = 1_000_000  # a config file, and its text once YAML aliases are expanded
MAX_NODES = 110_000  # values (mappings, lists, scalars) once aliases are expanded: an inline
#   space.functions may list as many functions as a pool file (100,000), and a few keys more
MAX_DEPTH = 50  # levels of mappings and lists (a runtime_env nests a few)
SEED_RANGE = "[0, 4294967295]"  # 2**32 - 1: what numpy's legacy seeding takes
YEAR_S = "(0, 31536000]"  # seconds: a positive time of at most a year


class ConfigError(UserError, ValueError):
    """A config that cannot be used; the message is one line naming the key's path."""


# -- the sections -------------------------------------------------------------------


@dataclass(frozen=True)
class SpaceConfig:
    """The search space: ``units`` core units over the named operators (None: all 25/10),
    or a **pool**: the given functions only (``space.FunctionPool``)."""

    units: int = 1
    unary: tuple[str, ...] | None = None
    binary: tuple[str, ...] | None = None
    pool: str | None = None  # a file of expressions, one a line ("search among these");
    #   read when a run starts, its functions saved with the run (a resume reads those)
    functions: tuple[str, ...] | None = None  # the pool's expressions, inline

    RANGES: ClassVar[dict[str, str]] = {"units": "[1, 10]"}


@dataclass(frozen=True)
class BudgetConfig:
    """When the search stops (whichever comes first; the strategy running dry also stops it)."""

    max_evaluations: int | None = None  # child trainings (one per candidate and seed)
    max_seconds: float | None = None  # wall time of this invocation (a resume starts afresh)
    max_proposals: int | None = None  # asks, duplicates included (None: 20 x max_evaluations)
    max_consecutive_errors: int = 20  # abort after this many child errors in a row (a broken
    #                                   setup, e.g. data missing on a worker, not bad candidates)
    checkpoint_every: int = 10  # save the strategy state after this many results (and at exit)
    unlimited: bool = False  # true: search with no stop rule at all, until Ctrl-C. A search
    #   that sets none of the limits above and whose strategy never runs dry (all but
    #   exhaustive) is refused unless this says so.

    RANGES: ClassVar[dict[str, str]] = {
        "max_evaluations": "[1, 1000000000]", "max_seconds": YEAR_S,
        "max_proposals": "[1, 100000000000]", "max_consecutive_errors": "[1, 1000000]",
        "checkpoint_every": "[1, 1000000]"}

    @property
    def limited(self) -> bool:
        """Whether one of the limits stops the search."""
        return any(limit is not None for limit in
                   (self.max_evaluations, self.max_seconds, self.max_proposals))


@dataclass(frozen=True)
class BackendConfig:
    """Where children run: ``ray`` (default) or ``inline`` (one process, for debugging)."""

    kind: Literal["ray", "inline"] = "ray"
    address: str | None = None  # None: start a local Ray; "auto" or "ray://host:port": join
    workers: int = 2  # children in flight at once
    num_cpus: float = 1.0  # per child; also the child's torch threads
    num_gpus: float = 0.0  # per child; fractional (0.25) packs children onto one GPU
    max_retries: int = 2  # re-runs of a child whose worker process died (not its own failure)
    timeout_s: float | None = None  # hard wall-clock limit of one child; killed past it
    runtime_env: dict | None = None  # Ray runtime_env, e.g. {working_dir: .} ships your task's
    #   code to a cluster's workers (or {py_modules: [...]}, {pip: [...]}); see the README
    dashboard: bool = False  # a local Ray starts its dashboard (needs ray[default]); off, a
    #   killed driver leaves fewer processes behind. A cluster's own setting stands.

    RANGES: ClassVar[dict[str, str]] = {
        "workers": "[1, 10000]", "num_cpus": "(0, 1024]", "num_gpus": "[0, 64]",
        "max_retries": "[0, 100]", "timeout_s": YEAR_S}


@dataclass(frozen=True)
class HalvingConfig:
    """Successive halving over fidelity (Jamieson & Talwalkar 2016; Li et al. 2018, ASHA).

    Every candidate is trained at ``rungs[0]`` (task steps, or a user task's
    ``budget_key``); each ``cohort`` of candidates, in the order they were
    proposed, is ranked once all of it finished a rung, and its best
    ``1/eta`` (rounded down) go on to the next rung. With the defaults a cohort
    is ``eta ** (len(rungs) - 1)`` candidates, so 9 candidates at eta = 3 train
    9, 3 and 1 times. The strategy learns from the lowest rung (it hears each
    candidate once); the ranking puts the highest rung reached first. When the
    search stops, the last, partial cohort is ranked as it is.
    """

    rungs: tuple[int, ...] = ()  # training budgets, increasing, e.g. [300, 900, 2700]
    eta: int = 3  # keep the best 1/eta of each cohort at each rung
    cohort: int | None = None  # candidates ranked together (None: eta ** (len(rungs) - 1))

    RANGES: ClassVar[dict[str, str]] = {"rungs": "[1, 10000000]", "eta": "[2, 100]",
                                        "cohort": "[2, 1000000]"}

    @property
    def cohort_size(self) -> int:
        return self.cohort or self.eta ** (len(self.rungs) - 1)


@dataclass(frozen=True)
class RunConfig:
    """Everything one search needs; saved (resolved) into the run's store."""

    space: SpaceConfig = field(default_factory=SpaceConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    task: TaskConfig | UserTask | TableTask = field(default_factory=TaskConfig)  # by task.name
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    evaluate: str = DEFAULT_EVALUATE  # low-level hook: "module:function" with run_task's
    #   signature (expr_text, task dict, seed, device) -> Result; tests use it for fake children
    seeds: tuple[int, ...] = (0,)  # each candidate is trained once per seed; reward = mean
    seeds_per_candidate: int | None = None  # shorthand for seeds: [0, 1, ..., n-1]
    halving: HalvingConfig | None = None  # successive halving over training budgets (None: off)
    surrogate: SurrogateConfig = field(default_factory=SurrogateConfig)  # the reward model
    #   of strategy surrogate, exhaustive's predicted order, and the filter of the others
    dedup: Literal["fingerprint", "canonical"] = "fingerprint"  # what counts as "seen before"
    name: str = "search"  # a label for the run directory and reports

    RANGES: ClassVar[dict[str, str]] = {"seeds": SEED_RANGE, "seeds_per_candidate": "[1, 1000]"}


# -- checks beyond types --------------------------------------------------------------


def _check(config: RunConfig) -> None:
    """Value checks that types cannot express; raise ConfigError naming the key."""
    pooled = config.space.pool is not None or config.space.functions is not None
    rules = [  # the range of each number is declared in its section's RANGES
        ("space.pool", not pooled or (config.space.unary is None and config.space.binary is None
                                      and config.space.units == 1),
         "a pool is the whole space; drop space.units, unary and binary"),
        ("backend.num_gpus", config.backend.num_gpus <= 1 or config.backend.num_gpus.is_integer(),
         "above 1 must be a whole number of GPUs"),
        ("seeds", len(config.seeds) >= 1, "must list at least one seed"),
        ("seeds", len(set(config.seeds)) == len(config.seeds), "lists a seed twice"),
        ("seeds_per_candidate", config.seeds_per_candidate is None
         or config.seeds == tuple(range(config.seeds_per_candidate)),
         "give either seeds or seeds_per_candidate (which means seeds 0..n-1), not both"),
        ("evaluate", _is_target(config.evaluate), "must look like 'module.path:function'"),
        ("surrogate.prior", config.surrogate.prior is None or config.strategy.name == "surrogate"
         or (config.strategy.name == "exhaustive" and config.strategy.order == "predicted"),
         "is read by strategy surrogate and by exhaustive with order: predicted; drop it or "
         "use one of them"),
        ("budget.unlimited", not (config.budget.unlimited and config.budget.limited),
         "true means no limit, but a max_evaluations, max_seconds or max_proposals is set; "
         "drop one of them"),
    ]
    halving = config.halving
    if halving is not None:
        rules += [
            ("halving.rungs", len(halving.rungs) >= 2, "needs at least two budgets, e.g. "
             "[300, 900, 2700]"),
            ("halving.rungs", list(halving.rungs) == sorted(set(halving.rungs)),
             "must increase strictly"),
            ("halving.cohort", halving.cohort is None or halving.cohort >= halving.eta,
             "must be >= eta or null"),
        ]
    for key, ok, message in rules:
        if not ok:
            raise ConfigError(f"{key}: {message}")
    for key, unary, binary in (("space.unary", config.space.unary, None),
                               ("space.binary", None, config.space.binary)):
        try:
            SearchSpace(config.space.units, unary, binary)
        except SpaceError as error:
            raise ConfigError(f"{key}: {error}") from None
    if config.space.functions is not None:
        try:
            FunctionPool(config.space.functions)
        except SpaceError as error:
            raise ConfigError(f"space.functions: {error}") from None


def _is_target(text: str) -> bool:
    module, _, function = text.partition(":")
    return bool(module) and function.isidentifier() and all(
        part.isidentifier() for part in module.split("."))


# -- the loader -----------------------------------------------------------------------


def load_config(path: str | Path) -> RunConfig:
    """Read and check a YAML config; any problem is one ``ConfigError`` line."""
    path = Path(path)
    try:  # a regular UTF-8 file, at most MAX_BYTES read (a FIFO or /dev/zero: refused unread)
        text = read_text(path, MAX_BYTES, "the config")
    except FileError as error:
        raise ConfigError(str(error)) from None
    try:
        return config_from_text(text)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def config_from_text(text: str) -> RunConfig:
    """Parse YAML text into a checked ``RunConfig``; a text without keys is refused."""
    if len(text.encode()) > MAX_BYTES:
        raise ConfigError(f"the config is {len(text.encode()):,} bytes, more than the "
                          f"{MAX_BYTES:,} a config may have")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}not valid YAML ({problem})") from None
    except ValueError as error:  # an integer of more than 4,300 digits
        raise ConfigError(f"not a usable YAML value ({' '.join(str(error).split())[:120]})"
                          ) from None
    except RecursionError:  # [[[[...: the YAML parser recurses once per level
        raise ConfigError(f"brackets or indentation nest deeper than the YAML parser can "
                          f"follow; a config nests at most {MAX_DEPTH} levels") from None
    if data is None or data == {}:
        raise ConfigError("the config has no settings (the file is empty or only comments); "
                          "start from configs/quickstart.yaml")
    _check_expanded_size(data)
    return config_from_dict(data)


def _check_expanded_size(data: Any) -> None:
    """Refuse YAML whose aliases expand to an absurd tree (9 levels of 9 aliases are 9**9
    values): walk it as if expanded, and stop at ``MAX_NODES`` or ``MAX_BYTES``; and a
    tree deeper than ``MAX_DEPTH`` (what the resolved config is written with recurses)."""
    nodes, chars, stack = 0, 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        nodes += 1
        if level > MAX_DEPTH:
            raise ConfigError(f"the config nests more than {MAX_DEPTH} levels deep; a config "
                              "is a few levels of keys")
        if isinstance(value, dict):
            stack.extend((key, level + 1) for key in value)
            stack.extend((item, level + 1) for item in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((item, level + 1) for item in value)
        else:
            chars += len(str(value)) if isinstance(value, str) else 8
        if nodes > MAX_NODES or chars > MAX_BYTES:
            raise ConfigError(f"the config expands to more than {MAX_NODES:,} values or "
                              f"{MAX_BYTES:,} bytes (YAML aliases nested in each other?); a "
                              "config is a few dozen keys")


def config_from_dict(data: Any) -> RunConfig:
    """Build a checked ``RunConfig`` from plain data (the YAML tree, or a saved config)."""
    per_candidate = data.get("seeds_per_candidate") if isinstance(data, dict) else None
    if isinstance(per_candidate, int) and not isinstance(per_candidate, bool) \
            and "seeds" not in data and problem(RunConfig.RANGES["seeds_per_candidate"],
                                                per_candidate) is None:
        data = {**data, "seeds": list(range(per_candidate))}
    config = _build(RunConfig, data, "")
    _check(config)
    return config


def to_dict(config: Any) -> dict[str, Any]:
    """The resolved config as plain data (tuples as lists), ready for YAML or JSON."""
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value
    return plain(config)


def to_yaml(config: RunConfig) -> str:
    """The resolved config as YAML text, loadable by ``config_from_text``."""
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def replace(config: RunConfig, section: str, **changes: Any) -> RunConfig:
    """A copy of ``config`` with fields of one section changed (command-line overrides)."""
    current = getattr(config, section)
    for key, value in changes.items():
        _check_range(type(current), key, value, f"{section}.{key}")
    updated = dataclasses.replace(current, **changes)
    new = dataclasses.replace(config, **{section: updated})
    _check(new)
    return new


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key_text(key: Any) -> str:
    """A key as a message shows it: as written, or quoted with escapes (repr) when it holds
    characters a terminal would act on or hide (an escaped NUL, a newline, an ANSI escape)."""
    text = str(key)
    return text if text.isprintable() else repr(text)


def _describe(value: Any) -> str:
    return "null" if value is None else repr(value)


def _build(cls: type, data: Any, path: str) -> Any:
    """An instance of dataclass ``cls`` from a mapping, checked field by field."""
    if not isinstance(data, dict):
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}expected a mapping of keys, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(known)})"
            raise ConfigError(f"{_join(path, _key_text(key))}: unknown key{hint}")
    values = {key: _build_task(value, _join(path, key)) if cls is RunConfig and key == "task"
              else _convert(hints[key], value, _join(path, key)) for key, value in data.items()}
    for key, value in values.items():
        _check_range(cls, key, value, _join(path, key))
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}{error}") from None


def _check_range(cls: type, key: str, value: Any, path: str) -> None:
    """A number (or each number of a list) within the range ``cls.RANGES`` declares."""
    spec = getattr(cls, "RANGES", {}).get(key)
    items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
    for index, item in items:
        why = problem(spec, item)
        if why is not None:
            raise ConfigError(f"{path}{'' if index is None else f'[{index}]'}: {why}")


def _build_task(data: Any, path: str) -> TaskConfig | UserTask | TableTask:
    """The task section: ``name`` picks the class (built-in, ``table`` or module:function)."""
    name = data.get("name") if isinstance(data, dict) else None
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{path}.name: expected a string, got {_describe(name)}")
    try:
        cls = task_class(name or "cifar10-resnet")
    except ValueError as error:
        raise ConfigError(f"{path}.name: {error}") from None
    return _build(cls, data, path)


def _convert(hint: Any, value: Any, path: str) -> Any:
    """``value`` checked against the type ``hint`` (and converted: lists become tuples)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, path)
            except ConfigError as error:
                errors.append(error)
        if len(options) == 1:
            raise errors[0]
        raise ConfigError(f"{path}: expected {_name(hint)}, got {_describe(value)}")
    if origin is Literal:
        if value not in args:
            choices = " | ".join(repr(a) for a in args)
            raise ConfigError(f"{path}: expected one of {choices}, got {_describe(value)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {_describe(value)}")
        item = args[0] if args else Any
        items = [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {_describe(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {_describe(value)}")
        return value
    if hint is float:
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads 1e-3 (no dot) as text; accept the number
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {_describe(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {_describe(value)}")
        return value
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {_describe(value)}")
        return value
    raise ConfigError(f"{path}: unsupported type {hint!r} in the config schema")


def _name(hint: Any) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             type(None): "null"}
    args = typing.get_args(hint)
    if args and typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_name(a) for a in args)
    return names.get(hint, getattr(hint, "__name__", str(hint)))
