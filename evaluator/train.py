"""The child's training loop: SGD with warm-up and cosine, divergence checks, a time limit.

The loop is in plain sight in ``train``. On CUDA it never waits for the GPU
except at the marked sync points: every ``log_every`` steps (loss curve,
divergence flag, parameter check) and at validation. On the CPU there is no
asynchrony to protect, so the divergence flag is read every step.

Divergence: each step's loss feeds a device-side "first non-finite step"
counter (``torch.where``, no sync); when a sync point reads it as set, or the
parameters/buffers hold a non-finite value, training stops with that step.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from evaluator import compiling
from evaluator.config import TaskConfig
from evaluator.loader import Normalizer, TrainBatches, eval_batches


@dataclass
class Outcome:
    """What the loop reports; ``evaluate`` turns it into a ``Result``."""

    status: str  # "ok" | "diverged" | "timeout"
    steps_done: int = 0
    diverged_at: int | None = None
    val_accuracy: float | None = None
    curves: dict[str, list[float]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def lr_at(step: int, task: TaskConfig) -> float:
    """Linear warm-up from 0 over ``warmup_fraction`` of the steps, then cosine to the floor."""
    warmup = int(task.warmup_fraction * task.steps)
    if step < warmup:
        return task.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, task.steps - warmup)
    floor = task.lr * task.min_lr_fraction
    return floor + (task.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, task: TaskConfig) -> torch.optim.SGD:
    """SGD; weight decay on conv/linear weights (ndim > 1) only, not BN or beta."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": task.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=task.lr, momentum=task.momentum, nesterov=task.nesterov)


def autocast(device: torch.device, task: TaskConfig) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``amp``; nothing on the CPU."""
    if device.type == "cuda" and task.amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def all_finite(model: nn.Module) -> torch.Tensor:
    """A device bool: every parameter and float buffer is finite (no sync)."""
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    return torch.stack([torch.isfinite(t).all() for t in tensors]).all()


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, task: TaskConfig,
             normalize: Normalizer) -> float:
    """Top-1 accuracy on a split, in eval mode; one sync at the end."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=labels.device)
    with autocast(labels.device, task):
        for x, y in eval_batches(images, labels, task.eval_batch_size, normalize):
            correct += (model(x).argmax(dim=1) == y).sum()
    model.train(was_training)
    return correct.item() / max(1, len(labels))  # sync


def train(model: nn.Module, batches: TrainBatches, val: tuple[torch.Tensor, torch.Tensor],
          task: TaskConfig, normalize: Normalizer, deadline: float | None = None) -> Outcome:
    """Train ``model`` for ``task.steps`` steps and measure validation accuracy."""
    device = batches.device
    optimizer = make_optimizer(model, task)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=task.label_smoothing)
    check_every = 1 if device.type == "cpu" else task.log_every
    curves: dict[str, list[float]] = {"step": [], "train_loss": [], "val_step": [],
                                      "val_accuracy": []}
    info: dict = {"compiled": False, "compile_decision": "", "compile_s": 0.0}
    step_fn: nn.Module = model  # the module the training step calls (maybe compiled)
    gain = compiling.gain_for(task.compile_gain, device)
    decision = compiling.decide(task.compile, task.steps, None, task.compile_cost_s, gain)
    pending_compile = decision.compile
    info["compile_decision"] = decision.reason
    probe_start: float | None = None

    loss_sum = torch.zeros((), device=device)
    first_bad = torch.full((), -1, dtype=torch.long, device=device)
    step_t = torch.zeros((), dtype=torch.long, device=device)
    window, t_start = 0, time.perf_counter()
    model.train()

    for step in range(task.steps):
        if pending_compile:
            mode = compiling.resolve_mode(task.compile_mode, device)
            step_fn, pending_compile = compiling.compile_model(model, mode), False
            info["compile_mode"] = mode
            info["compiled"], compile_t0 = True, time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, task)
        x, y = batches.next()
        try:
            loss = train_step(step_fn, optimizer, loss_fn, x, y, device, task)
        except Exception as e:  # a compiled step that fails falls back to eager
            if step_fn is model:
                raise
            info.update(compiled=False, compile_error=f"{type(e).__name__}: {e}"[:500])
            step_fn = model
            loss = train_step(step_fn, optimizer, loss_fn, x, y, device, task)
        if info["compiled"] and not info["compile_s"]:
            info["compile_s"] = time.perf_counter() - compile_t0  # first compiled step

        # Device-side bookkeeping, no sync: running loss, first non-finite step.
        loss_sum += loss
        first_bad = torch.where(~torch.isfinite(loss) & (first_bad < 0), step_t, first_bad)
        step_t += 1
        window += 1

        done = step + 1
        if (task.compile == "auto" and not info["compiled"] and "compile_error" not in info
                and done in (compiling.PROBE_WARMUP, compiling.PROBE_STEPS)):
            if device.type == "cuda":
                torch.cuda.synchronize()  # sync: timing the eager probe
            if done == compiling.PROBE_WARMUP:
                probe_start = time.perf_counter()
            elif probe_start is not None:
                eager_s = (time.perf_counter() - probe_start) / (done - compiling.PROBE_WARMUP)
                decision = compiling.decide("auto", task.steps - done, eager_s,
                                            task.compile_cost_s, gain)
                info["compile_decision"], pending_compile = decision.reason, decision.compile

        if done % check_every == 0 or done % task.log_every == 0 or done == task.steps:
            params_ok = all_finite(model) if done % task.log_every == 0 or done == task.steps \
                else torch.ones((), dtype=torch.bool, device=device)
            # sync: one read of loss, divergence flag and parameter check
            total, bad, ok = torch.stack([loss_sum.float(), first_bad.float(),
                                          params_ok.float()]).tolist()
            if bad >= 0 or not ok:
                where = int(bad) + 1 if bad >= 0 else done  # 1-based step
                info.update(steps_done=done, seconds_per_step=_per_step(t_start, done))
                return Outcome("diverged", done, where, None, curves, info)
            if done % task.log_every == 0 or done == task.steps:
                curves["step"].append(float(done))
                curves["train_loss"].append(total / window)
                loss_sum.zero_()
                window = 0
        if task.eval_every and done % task.eval_every == 0 and done < task.steps:
            curves["val_step"].append(float(done))
            curves["val_accuracy"].append(accuracy(model, *val, task, normalize))
        if deadline is not None and time.perf_counter() > deadline:
            info.update(steps_done=done, seconds_per_step=_per_step(t_start, done))
            return Outcome("timeout", done, None, None, curves, info)

    info.update(steps_done=task.steps, seconds_per_step=_per_step(t_start, task.steps))
    val_acc = accuracy(model, *val, task, normalize)
    curves["val_step"].append(float(task.steps))
    curves["val_accuracy"].append(val_acc)
    return Outcome("ok", task.steps, None, val_acc, curves, info)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
          x: torch.Tensor, y: torch.Tensor, device: torch.device, task: TaskConfig
          ) -> torch.Tensor:
    """One SGD step; returns the loss as a detached device scalar (no sync)."""
    compiling.mark_step(hasattr(model, "_orig_mod"), device)  # a compiled module
    with autocast(device, task):
        logits = model(x)
    loss = loss_fn(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _per_step(t_start: float, steps: int) -> float:
    return (time.perf_counter() - t_start) / max(1, steps)


__all__ = ["Outcome", "accuracy", "lr_at", "make_optimizer", "train", "train_step"]
