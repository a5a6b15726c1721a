"""When to ``torch.compile`` a child, and compiling with a fallback to eager.

Policy (``TaskConfig.compile``):

* ``"never"``: eager throughout.
* ``"always"``: compile before the first step.
* ``"auto"`` (default): train ``PROBE_STEPS`` eager steps, time the last
  ``PROBE_STEPS - PROBE_WARMUP`` of them, and compile when the eager time the
  remaining steps would take, times the share compile is expected to save,
  exceeds the expected compile time:

      remaining_steps * eager_step_s * compile_gain > compile_cost_s

  On the shared 2-core CPU this was written on, composed activations ran
  1.07-1.42x ReLU eager and 1.16-1.30x compiled (one thread, batch 64, a busy
  machine), compile saving 0-20% of their step time at 27-84 s per candidate
  (issue 3 had measured ~40% saved at ~27 s). With the CPU default gain of
  0.15, "auto" compiles a CPU child whose eager run would last over ~200 s
  (e.g. the paper's 10K steps) and trains short proxies eagerly.

  On an H100 a ResNet-20 step is bound by kernel launches (~15 ms eager for
  every activation); compiled with CUDA graphs it takes 3-5 ms, i.e. compile
  saves ~70% and pays off its ~30 s after ~2,500 steps: "auto" compiles the
  paper's 10K-step children and skips short proxies. Gains default per
  device (``DEFAULT_GAIN``); the decision and its inputs are recorded in the
  Result's ``info``.

A model that fails to compile (an exception on its first compiled call) is
trained eagerly from that step on; the error is kept in ``info``. Only the
training forward/backward is compiled; evaluation uses the eager module (it
shares the parameters), so switching to ``eval()`` costs no recompilation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

# Share of eager step time that compiling saves, by device type, when the task sets none.
# CPU: issue 3 measured composed activations 1.9x ReLU eager -> within 1.1x compiled (~40%
# saved); child_throughput.py on the shared 2-core CPU (1 thread, batch 64) measured 0-20%.
# CUDA (H100, CUDA graphs): 14.6-19.2 ms eager -> 3.0-5.0 ms compiled (~70% saved).
DEFAULT_GAIN = {"cpu": 0.15, "cuda": 0.6}
PROBE_STEPS = 6  # eager steps before "auto" decides
PROBE_WARMUP = 2  # of which the first ones are not timed (allocator, caches)


@dataclass(frozen=True)
class CompileDecision:
    compile: bool
    reason: str


def decide(policy: str, remaining_steps: int, eager_step_s: float | None,
           cost_s: float, gain: float) -> CompileDecision:
    """Whether to compile now; ``eager_step_s`` is None before any step was timed."""
    if policy == "never":
        return CompileDecision(False, "policy never")
    if policy == "always":
        return CompileDecision(True, "policy always")
    if eager_step_s is None:
        return CompileDecision(False, "auto: not yet timed")
    saving = remaining_steps * eager_step_s * gain
    verdict = saving > cost_s
    return CompileDecision(verdict, f"auto: {remaining_steps} steps x {eager_step_s:.4f} s x "
                                    f"{gain:g} = {saving:.1f} s {'>' if verdict else '<='} "
                                    f"{cost_s:g} s compile")


def resolve_mode(mode: str, device: torch.device) -> str:
    """The ``torch.compile`` mode: "auto" is CUDA graphs on CUDA, inductor's default on CPU.

    On a GPU a ResNet-20 step at batch 128 is bound by kernel launches (~9 ms on
    an H100 for ReLU, eager or compiled alike), so only CUDA graphs
    ("reduce-overhead") remove the cost that composed activations add.
    """
    if mode != "auto":
        return mode
    return "reduce-overhead" if device.type == "cuda" else "default"


def gain_for(gain: float | None, device: torch.device) -> float:
    """The task's ``compile_gain``, else the device type's default."""
    return gain if gain is not None else DEFAULT_GAIN.get(device.type, DEFAULT_GAIN["cpu"])


def compile_model(model: nn.Module, mode: str = "default") -> nn.Module:
    """``torch.compile`` (lazy: errors surface on the first call)."""
    return torch.compile(model, mode=mode, dynamic=False)


def mark_step(compiled: bool, device: torch.device) -> None:
    """Tell CUDA-graph trees a new training iteration begins (no-op elsewhere)."""
    if compiled and device.type == "cuda":
        torch.compiler.cudagraph_mark_step_begin()


def reset_compiler() -> None:
    """Drop compiled graphs, so that one child's cache does not grow the next's."""
    with contextlib.suppress(Exception):  # best effort, purely a cache
        torch._dynamo.reset()
