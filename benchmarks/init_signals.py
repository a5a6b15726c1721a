"""Do cheap signals of the real child network at initialisation help the reward surrogate?

For each recorded landscape (``benchmarks/landscapes/<table>.csv`` with its
``<table>.yaml``) every row's function is put into the real child network of
that table, built with ``torch.manual_seed(0)`` (the same weights for every
function), and one fixed batch of 128 training examples goes forward and
backward through cross-entropy. The signals (``SIGNALS``, one row per
function, in table order) are:

* ``loss``: the cross-entropy at initialisation (capped);
* ``log_logit_std``: log10 std of the logits;
* ``log_grad_first`` / ``log_grad_last``: log10 gradient norm of the first
  and of the last layer's weight, and ``log_grad_ratio`` (first / last), the
  vanishing or exploding gradient;
* ``log_hidden_abs``: log10 mean |output| of the last activation site (a
  forward hook), ``hidden_zero``: the fraction of its outputs below 0.01 in
  magnitude, ``log_hidden_spread``: log10 of its mean per-unit std over the
  batch divided by its mean |output| (near -inf: every example looks alike);
* ``nonfinite``: 1 when anything above was NaN or infinite (or raised); such
  values become a capped constant (``CAP``, or ``LOSS_CAP`` for the loss).

The matrix is cached per table in ``runs/init_signals/<table>.npy`` (with a
``.json`` that records the table's expressions hash and the cost per
function); ``signal_matrix(table_path)`` returns it, computing it if needed.

It then reports the held-out Spearman ρ of ``controller.surrogate.RewardModel``
(leave-one-out up to ``--loo-max`` rows, else ``--folds``-fold, as
``benchmarks/surrogate_quality.py``) for four feature sets: the shape
features alone (``controller.features.feature_matrix``), the signals alone,
shape + signals concatenated plainly (every column standardised by the model,
so each signal weighs as one shape column), and shape + signals with the
signal block weighted to carry as much total weight as the shape block.
``RewardModel`` standardises every column, which would undo a multiplicative
scale, so the weighting repeats the signal block ``r = round(n_shape /
n_signals)`` times (counting non-constant columns): for knn's Euclidean
distance and the gp's isotropic Matérn kernel that is exactly the signal block
scaled by sqrt(r) after standardisation. "ρ ok" is the same held-out
predictions ranked among the rows that trained ``ok`` only.

    ACTSEARCH_DATA=../shared/data python benchmarks/init_signals.py --models knn
    python benchmarks/init_signals.py --tables benchmarks/landscapes/cifar10_resnet8.csv \\
        --models knn,gp,forest
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from surrogate_quality import LANDSCAPES, cross_predictions, load_table, spearman  # noqa: E402

from controller.features import feature_matrix  # noqa: E402
from space import parse  # noqa: E402

SIGNALS = ("loss", "log_logit_std", "log_grad_first", "log_grad_last", "log_grad_ratio",
           "log_hidden_abs", "hidden_zero", "log_hidden_spread", "nonfinite")
CAP = 20.0  # bound of every log10 signal; +CAP for non-finite
LOSS_CAP = 50.0
ZERO = 0.01  # |output| below this counts as near zero
BATCH = 128
CACHE = ROOT / "runs" / "init_signals"
GP_MAX = 1500  # gp fits beyond this many rows take many minutes each: skipped unless asked

Factory = Callable[[int], nn.Module]
Builder = Callable[[Factory], nn.Module]


# -- the child of a table -------------------------------------------------------------

def _cifar_batch(root: Path, flat: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """128 fixed training images of CIFAR-10, standardised per channel."""
    if flat:
        from examples.cifar10_mlp import cifar_vectors

        x, y = cifar_vectors(str(root))[:2]
        pick = np.random.default_rng(0).choice(len(y), BATCH, replace=False)
        return torch.from_numpy(np.ascontiguousarray(x[pick])), torch.from_numpy(y[pick])
    from evaluator.data import load_dataset

    train = load_dataset("cifar10", root).train
    images = train.images.astype(np.float32) / 255.0
    mean = images.mean(axis=(0, 2, 3), keepdims=True)
    std = images.std(axis=(0, 2, 3), keepdims=True)
    pick = np.random.default_rng(0).choice(len(train.labels), BATCH, replace=False)
    x = (images[pick] - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(
        train.labels[pick].astype(np.int64))


def child(table_path: str | Path, data_root: Path | None = None
          ) -> tuple[Builder, torch.Tensor, torch.Tensor]:
    """(build(factory) -> model, batch x, batch y) of the network that recorded the table
    (CIFAR-10 from ``data_root``, default ``$ACTSEARCH_DATA`` as the tasks read it)."""
    import yaml

    from evaluator.data import default_root

    data_root = Path(data_root) if data_root is not None else default_root()

    config = yaml.safe_load(Path(table_path).with_suffix(".yaml").read_text())
    task = config.get("task") or {}
    options = task.get("options") or {}
    name = task.get("name", "")
    if name == "examples.digits_mlp:train":
        from examples.digits_mlp import digits_split, mlp

        x, y = digits_split()[:2]
        pick = np.random.default_rng(0).choice(len(y), BATCH, replace=False)
        hidden, layers = options.get("hidden", 128), options.get("layers", 4)
        return (lambda f: mlp(f, x.shape[1], hidden, layers),
                torch.from_numpy(x[pick]), torch.from_numpy(y[pick]))
    if name == "examples.cifar10_mlp:train":
        from examples.digits_mlp import mlp

        x, y = _cifar_batch(data_root, flat=True)
        hidden, layers = options.get("hidden", 256), options.get("layers", 4)
        return lambda f: mlp(f, x.shape[1], hidden, layers), x, y
    if name in ("", "cifar10") and task.get("dataset", "cifar10") == "cifar10":
        from evaluator.models import resnet

        x, y = _cifar_batch(data_root, flat=False)
        depth, width = task.get("depth", 20), task.get("width", 16)
        return lambda f: resnet(depth=depth, width=width, num_classes=10, act=f), x, y
    raise ValueError(f"{table_path}: no child known for task {name or task}")


# -- signals ----------------------------------------------------------------------------

def _log10(value: float) -> tuple[float, bool]:
    """(capped log10 of a non-negative value, whether it was finite)."""
    if not math.isfinite(value):
        return CAP, False
    if value <= 0.0:
        return -CAP, True
    return float(np.clip(math.log10(value), -CAP, CAP)), True


def signals(build: Builder, expression: str, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """The ``SIGNALS`` vector of one function in the child at initialisation."""
    from space import to_module
    from space.torch_module import Activation

    expr = parse(expression)
    failed = np.array([LOSS_CAP, CAP, CAP, CAP, 0.0, CAP, 0.0, -CAP, 1.0])
    torch.manual_seed(0)
    model = build(lambda channels=1: to_module(expr, num_parameters=channels))
    model.train()
    weights = [p for p in model.parameters() if p.dim() >= 2]
    sites = [m for m in model.modules() if isinstance(m, Activation)]
    seen: dict[str, torch.Tensor] = {}
    hook = sites[-1].register_forward_hook(
        lambda module, inputs, output: seen.__setitem__("h", output.detach()))
    try:
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
    except (RuntimeError, ValueError, ArithmeticError):
        return failed
    finally:
        hook.remove()
    finite = True
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        loss_value, finite = LOSS_CAP, False
    out = [min(loss_value, LOSS_CAP)]
    for value in (float(logits.detach().std()),
                  float(weights[0].grad.norm()) if weights[0].grad is not None else 0.0,
                  float(weights[-1].grad.norm()) if weights[-1].grad is not None else 0.0):
        logged, ok = _log10(value)
        out.append(logged)
        finite &= ok
    out.append(out[2] - out[3])
    h = seen["h"].flatten(1)
    finite &= bool(torch.isfinite(h).all())
    magnitude = h.abs()
    mean_abs, ok = _log10(float(magnitude.mean()))
    finite &= ok
    out += [mean_abs, float((magnitude < ZERO).float().mean())]
    spread = float(h.std(dim=0).mean()) / max(float(magnitude.mean()), 1e-30)
    logged, ok = _log10(spread)
    finite &= ok
    out += [logged if ok else -CAP, 0.0 if finite else 1.0]
    return np.array(out, float)


def _digest(expressions: list[str]) -> str:
    return hashlib.sha256("\n".join(expressions).encode()).hexdigest()[:16]


def signal_matrix(table_path: str | Path, refresh: bool = False,
                  data_root: Path | None = None) -> np.ndarray:
    """The signals of every row of a table, in table order (cached in ``runs/init_signals``)."""
    table_path = Path(table_path)
    expressions, _ = load_table(table_path)
    cached, meta = CACHE / f"{table_path.stem}.npy", CACHE / f"{table_path.stem}.json"
    if not refresh and cached.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("digest") == _digest(expressions):
            return np.load(cached)
    torch.set_num_threads(1)
    build, x, y = child(table_path, data_root)
    began = time.perf_counter()
    matrix = np.stack([signals(build, e, x, y) for e in expressions])
    seconds = (time.perf_counter() - began) / max(len(expressions), 1)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, matrix)
    meta.write_text(json.dumps({"digest": _digest(expressions), "rows": len(expressions),
                                "signals": list(SIGNALS), "seconds_per_function": seconds}))
    return matrix


def seconds_per_function(table_path: str | Path) -> float:
    """The recorded cost of the cached signals of a table (NaN if none)."""
    meta = CACHE / f"{Path(table_path).stem}.json"
    return json.loads(meta.read_text())["seconds_per_function"] if meta.exists() else math.nan


# -- the comparison ----------------------------------------------------------------------

def _varying(block: np.ndarray) -> int:
    return int((block.std(axis=0) > 1e-12).sum())


def feature_sets(shape: np.ndarray, sig: np.ndarray) -> dict[str, np.ndarray]:
    """The four feature sets compared."""
    repeats = max(1, round(_varying(shape) / max(_varying(sig), 1)))
    return {"shape": shape, "signals": sig, "shape+signals": np.hstack([shape, sig]),
            f"shape+signals×{repeats} (equal weight)":
                np.hstack([shape] + [sig] * repeats)}


def _ok_mask(table_path: str | Path) -> np.ndarray:
    with open(table_path, newline="") as f:
        return np.array([r["status"] == "ok" for r in csv.DictReader(f)])


def compare(table_path: str | Path, models: list[str], loo_max: int, folds: int,
            gp_max: int) -> list[dict[str, object]]:
    """One row per (model, feature set): held-out ρ on all rows and on the ok rows."""
    expressions, rewards = load_table(table_path)
    shape = feature_matrix([parse(t) for t in expressions])
    sig = signal_matrix(table_path)
    ok = _ok_mask(table_path)
    k = len(rewards) if len(rewards) <= loo_max else folds
    rows = []
    for kind in models:
        if kind == "gp" and len(rewards) > gp_max:
            print(f"(skipping gp on {Path(table_path).name}: {len(rewards)} rows > "
                  f"--gp-max {gp_max})", file=sys.stderr, flush=True)
            continue
        for name, features in feature_sets(shape, sig).items():
            began = time.perf_counter()
            predicted = cross_predictions(kind, features, rewards, k)
            rows.append({"table": Path(table_path).name, "model": kind, "features": name,
                         "n": len(rewards), "cv": "LOO" if k == len(rewards) else f"{k}-fold",
                         "rho": spearman(predicted, rewards),
                         "rho_ok": spearman(predicted[ok], rewards[ok]),
                         "fit_seconds": time.perf_counter() - began})
            print(f"  {rows[-1]['table']} {kind} {name}: ρ {rows[-1]['rho']:.3f} "
                  f"({rows[-1]['fit_seconds']:.0f} s)", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", help="comma-separated CSVs (default: every "
                        "benchmarks/landscapes/*.csv)")
    parser.add_argument("--models", default="knn,gp", help="comma-separated (default knn,gp)")
    parser.add_argument("--loo-max", type=int, default=400,
                        help="exact leave-one-out up to this many rows (default 400)")
    parser.add_argument("--folds", type=int, default=10, help="k-fold beyond (default 10)")
    parser.add_argument("--gp-max", type=int, default=GP_MAX,
                        help=f"skip gp on tables with more rows (default {GP_MAX})")
    parser.add_argument("--refresh", action="store_true", help="recompute cached signals")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tables = args.tables.split(",") if args.tables else sorted(
        str(p) for p in LANDSCAPES.glob("*.csv"))
    results: list[dict[str, object]] = []
    for table in tables:
        began = time.perf_counter()
        signal_matrix(table, refresh=args.refresh)
        print(f"{Path(table).name}: signals ready in {time.perf_counter() - began:.0f} s "
              f"({seconds_per_function(table) * 1000:.1f} ms a function when computed)",
              file=sys.stderr, flush=True)
        results += compare(table, args.models.split(","), args.loo_max, args.folds, args.gp_max)
    print("| table | model | features | n | cv | ρ held out | ρ ok rows | "
          "seconds per function (signals) |")
    print("|---|---|---|---:|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['table']} | {r['model']} | {r['features']} | {r['n']} | {r['cv']} | "
              f"{r['rho']:.3f} | {r['rho_ok']:.3f} | "
              f"{seconds_per_function(str(r['table'])):.4f} |")


if __name__ == "__main__":
    main()
