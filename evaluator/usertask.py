"""User tasks: the candidate activation trained by your own function, named ``module:function``.

The contract for the function (import path ``package.module:function``)::

    def fn(activation, *, fidelity: dict, seed: int, device: str, **options)
            -> Mapping[str, float]

* ``activation(channels: int = 1) -> nn.Module`` returns a fresh module for the
  candidate each call; call it once per activation site with that site's
  width, so every site owns its per-channel beta (``nn.PReLU``-style, over
  dim 1), initialised to the task's ``beta_init``.
* ``fidelity`` is the task's ``fidelity`` mapping (a copy): how hard to train.
  Successive halving sets ``fidelity[budget_key]`` (default ``"steps"``).
* ``seed``: torch, numpy and ``random`` are already seeded with it (and their
  previous states restored afterwards); use it for anything else you draw.
* ``device``: "cpu", "cuda" or "cuda:N", already resolved ("auto" picks CUDA
  when available); torch's thread count is the task's ``threads`` for the call.
* ``options``: the task's ``options`` mapping, as keyword arguments.

It returns metrics by name (numbers). The one named by the task's ``reward``
(default ``val_accuracy``) is the reward, negated when ``maximize`` is false;
all of them are kept in ``Result.info["metrics"]``. The trained per-channel
``beta`` (and ``alpha``) of every module ``activation`` made, in the order it
made them, are kept in ``Result.info`` as the CIFAR task keeps them (one list
per site), for ``actsearch export`` and ``actsearch plot``.

What becomes which ``Result`` (the function itself never needs to catch):

* unparseable expression: ``error``; failing the pre-screen: ``invalid``
  (the function is not called);
* an exception inside the function: ``error`` with the exception's line and
  the last three frames (``file:line in func``);
* a return value that is not a mapping of numbers, or lacks the reward
  metric: ``error`` naming the metric and the keys it got;
* a NaN or infinite reward metric: ``diverged``.

A module that cannot be imported, or has no such function, raises (ImportError
or ValueError, one line): that is the setup's fault, not the candidate's, and
a search should stop rather than score every candidate zero.
"""

from __future__ import annotations

import importlib
import math
import os
import random
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from evaluator.config import DEVICES, strict_from_dict
from evaluator.result import Result
from space import Expression
from space.lazy import LazyModule

# Imported on first use (space.lazy): the task class is read by the config loader, which
# must not pay for torch; only running the task needs these.
np = LazyModule("numpy", globals(), "np")
torch = LazyModule("torch", globals(), "torch")
nn = LazyModule("torch.nn", globals(), "nn")

TARGET = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
RESERVED = ("fidelity", "seed", "device")  # keyword arguments the task passes itself
TRACEBACK_FRAMES = 3  # frames of a user function's exception kept in Result.error

UserFn = Callable[..., Mapping[str, float]]


def is_target(name: str) -> bool:
    """Whether ``name`` looks like ``package.module:function``."""
    return isinstance(name, str) and TARGET.fullmatch(name) is not None


@dataclass(frozen=True, kw_only=True)
class UserTask:
    """A task trained by the user's function ``name`` (see the module docstring)."""

    name: str = ""  # "package.module:function" (required)
    reward: str = "val_accuracy"  # the returned metric that is the reward
    maximize: bool = True  # False: reward = -metric (e.g. a loss)
    fidelity: dict[str, Any] = field(default_factory=dict)  # passed as fidelity=
    options: dict[str, Any] = field(default_factory=dict)  # passed as **options
    budget_key: str = "steps"  # the fidelity key that successive halving sets
    device: str = "auto"  # "auto" (cuda when available) | "cpu" | "cuda" | "cuda:N"
    threads: int = 1  # torch.set_num_threads during the call (restored afterwards)
    beta_init: float = 1.0  # initial per-channel beta of each activation module
    # Rewards for children that do not finish; with maximize: false, choose them
    # below every -metric you expect (0.0 would beat any positive loss).
    diverged_reward: float = 0.0  # the reward metric was NaN or infinite
    error_reward: float = 0.0  # unparseable text, an exception, a malformed return value
    invalid_reward: float = 0.0  # failed the pre-screen (non-finite, constant, linear)

    # The range of each number, read by the search's config loader (search.ranges); the
    # values inside fidelity and options are yours, passed on as they are.
    RANGES: ClassVar[dict[str, str]] = {
        "threads": "[1, 1024]", "beta_init": "[-100, 100]", "diverged_reward": "(-inf, inf)",
        "error_reward": "(-inf, inf)", "invalid_reward": "(-inf, inf)"}

    def __post_init__(self) -> None:
        # Private copies: the frozen task must not change when the caller's dicts do.
        object.__setattr__(self, "fidelity", dict(self.fidelity) if isinstance(
            self.fidelity, Mapping) else self.fidelity)
        object.__setattr__(self, "options", dict(self.options) if isinstance(
            self.options, Mapping) else self.options)
        problems = list(_problems(self))
        if problems:
            raise ValueError("invalid UserTask: " + "; ".join(problems))

    @property
    def metric_sign(self) -> float:
        return 1.0 if self.maximize else -1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data, the form that crosses to a worker."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserTask:
        """The inverse of ``to_dict``; unknown keys are a ``ValueError`` naming them."""
        return strict_from_dict(cls, data)


def _problems(task: UserTask):
    if not is_target(task.name):
        yield f"name {task.name!r} is not 'package.module:function'"
    for key in ("reward", "budget_key"):
        if not isinstance(getattr(task, key), str) or not getattr(task, key):
            yield f"{key} must be a non-empty string"
    for key in ("fidelity", "options"):
        value = getattr(task, key)
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            yield f"{key} must be a mapping with string keys"
    if isinstance(task.options, dict):
        bad = sorted(k for k in task.options if not str(k).isidentifier() or k in RESERVED)
        if bad:
            yield (f"options keys {', '.join(map(repr, bad))} cannot be keyword arguments "
                   f"(identifiers other than {', '.join(RESERVED)})")
    if not isinstance(task.device, str) or not (
            task.device in DEVICES or task.device.startswith("cuda:")):
        yield f"device {task.device!r} is not auto, cpu, cuda or cuda:N"
    if isinstance(task.threads, bool) or not isinstance(task.threads, int) or task.threads < 1:
        yield f"threads must be an integer >= 1, got {task.threads!r}"
    if not isinstance(task.beta_init, (int, float)) or not math.isfinite(task.beta_init):
        yield f"beta_init must be finite, got {task.beta_init}"


# -- importing the function ------------------------------------------------------------


def import_function(target: str, what: str = "user task") -> UserFn:
    """The function named ``package.module:function`` (importlib + getattr, no eval).

    Modules in the current directory are found too (as with ``python -m``).
    Raises ``ImportError`` or ``ValueError`` with one line naming ``what`` it is:
    a setup problem.
    """
    if not is_target(target):
        raise ValueError(f"{what} {target!r} is not 'package.module:function'")
    module_name, _, function_name = target.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(f"{what} {target!r}: cannot import {module_name!r} "
                          f"({_one_line(error)})") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"{what} {target!r}: module {module_name} has no function "
                         f"{function_name!r}")
    return function


# -- running it ------------------------------------------------------------------------


def run_user_task(expr_text: str, task: UserTask, seed: int = 0,
                  device: str | None = None) -> Result:
    """Train the candidate ``expr_text`` with the user's function; never raises for its failure."""
    from evaluator.evaluate import learned_parameters, resolve_device
    from evaluator.prescreen import screen

    function = import_function(task.name)  # raises: the setup, not the candidate
    start = time.perf_counter()

    def finish(status: str, reward: float, **kw: Any) -> Result:
        return Result(status=status, reward=float(reward), seconds=time.perf_counter() - start,
                      expr=expr_text, seed=seed, **kw)

    expr = screen(expr_text, task.beta_init)
    if not isinstance(expr, Expression):
        status, why = expr
        return finish(status, getattr(task, f"{status}_reward"), error=why)

    dev = resolve_device(device, task)  # raises for CUDA that is not there (setup)
    info: dict[str, Any] = {"device": str(dev), "threads": task.threads,
                            "torch": torch.__version__, "fidelity": dict(task.fidelity)}
    made: list[nn.Module] = []
    try:
        with _seeded(seed, dev), _threads(task.threads):
            returned = function(_factory(expr, task.beta_init, made),
                                fidelity=dict(task.fidelity), seed=seed, device=str(dev),
                                **task.options)
    except Exception as e:  # the candidate's (or the function's) failure is a result
        return finish("error", task.error_reward, error=describe_exception(e), info=info)
    info.update(learned_parameters(nn.ModuleList(made)))

    metrics, problem = _metrics(returned, task.reward)
    info["metrics"] = metrics
    if problem:
        return finish("error", task.error_reward, error=problem, info=info)
    value = metrics[task.reward]
    if not math.isfinite(value):
        return finish("diverged", task.diverged_reward, info=info,
                      error=f"reward metric {task.reward!r} is {value} (non-finite)")
    step = task.fidelity.get(task.budget_key)
    return finish("ok", task.metric_sign * value, val_accuracy=value, info=info,
                  step=step if isinstance(step, int) and not isinstance(step, bool) else None)


def _factory(expr: Expression, beta_init: float,
             made: list[nn.Module]) -> Callable[..., nn.Module]:
    def activation(channels: int = 1) -> nn.Module:
        """A fresh module for the candidate with ``channels`` per-channel betas."""
        from space import to_module

        module = to_module(expr, num_parameters=channels, init=beta_init)
        made.append(module)
        return module

    return activation


def _metrics(returned: Any, reward: str) -> tuple[dict[str, float], str]:
    """(metrics as floats, problem or "")."""
    if not isinstance(returned, Mapping):
        return {}, (f"the task function returned {type(returned).__name__}, not a mapping of "
                    f"metric names to numbers (expected a {reward!r} key)")
    metrics, bad = {}, []
    for key, value in returned.items():
        try:
            if isinstance(value, (str, bytes)):
                raise TypeError
            metrics[str(key)] = float(value)
        except (TypeError, ValueError, RuntimeError):  # RuntimeError: a multi-element tensor
            bad.append(f"{key!r} ({type(value).__name__})")
    if reward not in metrics and reward not in returned:
        got = ", ".join(repr(str(k)) for k in returned) or "none"
        return metrics, f"reward metric {reward!r} missing from the returned metrics (got {got})"
    if bad:
        return metrics, f"metrics must be numbers; not numbers: {', '.join(bad)}"
    return metrics, ""


def describe_exception(error: BaseException, frames: int = TRACEBACK_FRAMES) -> str:
    """One line: the exception, then its last ``frames`` frames as ``file:line in func``."""
    where = "; ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}"
                      for f in traceback.extract_tb(error.__traceback__)[-frames:])
    text = f"{type(error).__name__}: {_one_line(error)}"
    return (f"{text} [{where}]" if where else text)[:2000]


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _short(filename: str) -> str:
    """A path relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith("..") else relative


class _threads:
    """torch.set_num_threads for the duration, restored afterwards."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        self.previous = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.previous)


class _seeded:
    """random, numpy and torch seeded with ``seed``; their previous states restored after."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed, self.device = seed, device

    def __enter__(self) -> None:
        self.python, self.numpy = random.getstate(), np.random.get_state()
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        self.fork = torch.random.fork_rng(devices=cuda)
        self.fork.__enter__()
        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        torch.manual_seed(self.seed)

    def __exit__(self, *exc: object) -> None:
        self.fork.__exit__(*exc)
        random.setstate(self.python)
        np.random.set_state(self.numpy)
