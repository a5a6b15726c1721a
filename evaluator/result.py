"""The outcome of one child: a frozen record that survives JSON with NaN and inf intact."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "diverged", "invalid", "error", "timeout", "missing")

# JSON has no NaN or inf: they travel as these strings and come back as floats.
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


@dataclass(frozen=True)
class Result:
    """What ``evaluate`` returns for one (expression, task, seed).

    ``reward`` is the validation accuracy in [0, 1] when ``status == "ok"`` (for
    user tasks the chosen metric, negated when minimised; for table tasks the
    recorded reward); otherwise the task's configured reward for that status.
    ``missing`` is only produced by a table task replaying a table that has no
    entry for the function: it is reported, never guessed. ``step`` is the
    training step where a ``diverged`` child first met a non-finite loss (or the
    step reached at a timeout). ``curves`` holds lists of floats keyed by name
    (``step``, ``train_loss``, ``val_step``, ``val_accuracy``). ``info`` holds
    plain facts about the run (device, compiled or not, parameter count, ...).
    """

    status: str
    reward: float
    val_accuracy: float | None = None
    step: int | None = None
    curves: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""
    expr: str = ""
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain data (``json.dumps(..., allow_nan=False)`` accepts it)."""
        return {
            "status": self.status,
            "reward": _encode(self.reward),
            "val_accuracy": _encode(self.val_accuracy),
            "step": self.step,
            "curves": {k: [_encode(v) for v in vs] for k, vs in self.curves.items()},
            "seconds": _encode(self.seconds),
            "error": self.error,
            "expr": self.expr,
            "seed": self.seed,
            "info": _encode(self.info),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """The inverse of ``to_dict``."""
        return cls(
            status=data["status"],
            reward=_decode(data["reward"]),
            val_accuracy=_decode(data.get("val_accuracy")),
            step=data.get("step"),
            curves={k: [_decode(v) for v in vs] for k, vs in data.get("curves", {}).items()},
            seconds=_decode(data.get("seconds", 0.0)),
            error=data.get("error", ""),
            expr=data.get("expr", ""),
            seed=data.get("seed", 0),
            info=_decode(data.get("info", {})),
        )


def _encode(value: Any) -> Any:
    """Non-finite floats become "nan" / "inf" / "-inf", recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
