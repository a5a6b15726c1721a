"""``evaluate``: one activation function in, one ``Result`` out.

A plain function (no Ray), called inline or inside a worker with the
expression's text and the task as plain data. It never raises for the
candidate's own failure: unparseable text is ``error``, a failed pre-screen
``invalid``, a non-finite loss ``diverged``, the time limit ``timeout`` and an
exception while training ``error`` (with its message). Problems of the setup,
not the candidate, do raise: ``DataError`` for a missing or corrupt data set,
``ValueError`` for a device that does not exist, so a search stops with one
clear line instead of scoring every candidate zero.

Seeds: ``seed`` fixes weight initialisation, batch order and augmentation
(``seed`` and ``seed + 1`` streams); the validation split is fixed by the
task's ``split_seed`` and is the same for every candidate. On the CPU with
the same thread count a run is reproducible.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import torch

from evaluator.compiling import reset_compiler
from evaluator.config import TaskConfig
from evaluator.data import load_dataset
from evaluator.loader import Normalizer, TrainBatches, channel_stats, to_device_images
from evaluator.models import resnet
from evaluator.prescreen import screen
from evaluator.result import Result
from evaluator.train import train
from space import Expression, to_module
from space.torch_module import Activation


def resolve_device(requested: str | None, task: TaskConfig) -> torch.device:
    """The device to train on: the argument, else the task's; "auto" prefers CUDA."""
    name = requested or task.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available here; "
                         "use device: cpu or auto")
    return device


def activation_factory(expr: Expression, beta_init: float = 1.0):
    """channels -> a fresh module for ``expr`` with per-channel beta."""
    return lambda channels: to_module(expr, num_parameters=channels, init=beta_init)


def evaluate(expr_text: str, task: TaskConfig | dict[str, Any], seed: int = 0,
             device: str | None = None) -> Result:
    """Train a child with activation ``expr_text`` on ``task``; its validation accuracy."""
    if isinstance(task, dict):
        task = TaskConfig.from_dict(task)
    start = time.perf_counter()

    def finish(status: str, reward: float, **kw: Any) -> Result:
        return Result(status=status, reward=reward, seconds=time.perf_counter() - start,
                      expr=expr_text, seed=seed, **kw)

    expr = screen(expr_text, task.beta_init)
    if not isinstance(expr, Expression):
        status, why = expr
        return finish(status, getattr(task, f"{status}_reward"), error=why)

    dev = resolve_device(device, task)
    data = load_dataset(task.dataset, task.data_dir, task.validation_size, task.split_seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(task.threads)
    deadline = start + task.time_limit_s if task.time_limit_s else None
    try:
        with torch.random.fork_rng(devices=[]), _deterministic(task.deterministic):
            torch.manual_seed(seed)
            outcome = _run(expr, task, seed, dev, data, deadline)
    except Exception as e:  # a crashing child is a result, not a crash
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        return finish("error", task.error_reward, error=last[:2000])
    finally:
        torch.set_num_threads(previous_threads)
        if task.compile != "never":
            reset_compiler()

    info = {"device": str(dev), "threads": task.threads, "torch": torch.__version__,
            **outcome.info}
    if outcome.status == "ok":
        return finish("ok", float(outcome.val_accuracy), val_accuracy=outcome.val_accuracy,
                      step=outcome.steps_done, curves=outcome.curves, info=info)
    if outcome.status == "diverged":
        return finish("diverged", task.diverged_reward, step=outcome.diverged_at,
                      curves=outcome.curves, info=info,
                      error=f"non-finite loss or parameters at step {outcome.diverged_at}")
    return finish("timeout", task.timeout_reward, step=outcome.steps_done, curves=outcome.curves,
                  info=info, error=f"time limit {task.time_limit_s:g} s reached at step "
                                   f"{outcome.steps_done} of {task.steps}")


def _run(expr, task, seed, dev, data, deadline):
    """Put the data on the device, build the child, train it."""
    train_split = data.train
    if task.train_subset is not None and task.train_subset < len(train_split):
        # The training split is in original order; a seeded permutation keeps classes mixed.
        keep = torch.randperm(len(train_split), generator=torch.Generator().manual_seed(
            task.split_seed))[: task.train_subset].sort().values.numpy()
        train_split = type(train_split)(train_split.images[keep], train_split.labels[keep])
    images = to_device_images(train_split.images, dev, task.image_size)
    labels = torch.from_numpy(train_split.labels).to(dev)
    val_images = to_device_images(data.val.images, dev, task.image_size)
    val_labels = torch.from_numpy(data.val.labels).to(dev)
    mean, std = channel_stats(images)
    channels_last = dev.type == "cuda" and task.channels_last
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    normalize = Normalizer(mean.to(dev), std.to(dev), memory_format)

    generator = torch.Generator(device=dev).manual_seed(seed + 1)
    batches = TrainBatches(images, labels, task.batch_size, normalize, generator, task.augment)
    model = resnet(task.depth, task.width, data.num_classes,
                   activation_factory(expr, task.beta_init)).to(dev)
    model = model.to(memory_format=memory_format)
    outcome = train(model, batches, (val_images, val_labels), task, normalize, deadline)
    outcome.info.update(learned_parameters(model))
    outcome.info["params"] = sum(p.numel() for p in model.parameters())
    outcome.info["train_images"] = len(labels)
    outcome.info["dataset"], outcome.info["num_classes"] = data.name, data.num_classes
    return outcome


def learned_parameters(model: torch.nn.Module) -> dict[str, list[list[float]]]:
    """The trained per-channel ``beta`` (and ``alpha``) of each activation site, in model
    order, rounded to 5 decimals; ``actsearch export`` writes them next to the module."""
    sites = [m for m in model.modules() if isinstance(m, Activation)]
    learned = {}
    for name in ("beta", "alpha"):
        values = [getattr(m, name).detach().float().cpu().tolist() for m in sites
                  if getattr(m, name) is not None]
        if values:
            learned[name] = [[round(v, 5) for v in site] for site in values]
    return learned


class _deterministic:
    """torch.use_deterministic_algorithms for the duration, restored afterwards."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __enter__(self) -> None:
        self.previous = torch.are_deterministic_algorithms_enabled()
        if self.on:
            torch.use_deterministic_algorithms(True, warn_only=True)

    def __exit__(self, *exc: object) -> None:
        torch.use_deterministic_algorithms(self.previous)
