"""Result survives JSON with NaN and inf intact."""

from __future__ import annotations

import json
import math

import pytest

from evaluator import Result


def test_round_trip_keeps_nan_and_inf():
    result = Result(status="diverged", reward=0.0, val_accuracy=math.nan, step=17,
                    curves={"train_loss": [2.3, math.inf, math.nan, -math.inf]}, seconds=1.5,
                    error="non-finite", expr="exp(8*x)", seed=3, info={"compile_s": math.nan})
    text = json.dumps(result.to_dict(), allow_nan=False)
    back = Result.from_dict(json.loads(text))
    assert math.isnan(back.val_accuracy) and math.isnan(back.info["compile_s"])
    loss = back.curves["train_loss"]
    assert loss[0] == 2.3 and loss[1] == math.inf and math.isnan(loss[2]) and loss[3] == -math.inf
    assert (back.status, back.step, back.seed, back.expr) == ("diverged", 17, 3, "exp(8*x)")
    assert back.to_dict() == result.to_dict()


def test_plain_round_trip_is_equal():
    result = Result(status="ok", reward=0.5, val_accuracy=0.5, step=10,
                    curves={"step": [10.0], "train_loss": [1.0]})
    assert Result.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_unknown_status_is_rejected():
    with pytest.raises(ValueError, match="status"):
        Result(status="great", reward=1.0)
