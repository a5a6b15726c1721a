"""The child-training task: every choice the paper leaves open, as one frozen dataclass.

``TaskConfig`` is plain data so that it crosses to a worker as a dict
(``TaskConfig(**d)`` / ``dataclasses.asdict``). It is the built-in task, named
``cifar10-resnet`` or ``cifar100-resnet`` (the name fixes the data set; see
``evaluator.tasks`` for user and table tasks). Defaults follow the paper
(ResNet-20, CIFAR-10, 10K steps) and conventional CIFAR ResNet training where
the paper is silent (Ramachandran et al. 2017 give no optimizer or schedule).
The fidelity knobs (``steps``, ``batch_size``, ``image_size``,
``train_subset``, ``depth``, ``width``) make cheaper proxies of the same task.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

DATASETS = ("cifar10", "cifar100")
BUILTIN_TASKS = {"cifar10-resnet": "cifar10", "cifar100-resnet": "cifar100"}  # name -> dataset
COMPILE_POLICIES = ("auto", "always", "never")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TaskConfig:
    """How one candidate activation is trained and scored."""

    # -- which built-in task ----------------------------------------------------
    name: str | None = None  # "cifar10-resnet" | "cifar100-resnet"; None: from dataset
    # (both are always set after construction; a name and a different dataset is an error)

    # -- data -----------------------------------------------------------------
    dataset: str | None = None  # "cifar10" | "cifar100" (fine labels); None: from name
    data_dir: str | None = None  # None: $ACTSEARCH_DATA, else ~/.cache/actsearch
    validation_size: int = 5000  # held out of the training images, stratified by class
    split_seed: int = 0  # fixes the validation split; the same for every candidate
    train_subset: int | None = None  # fidelity: use only this many training images (None: all)
    image_size: int = 32  # fidelity: images resized once (antialiased) when not 32
    augment: bool = True  # random crop with 4-pixel zero padding + horizontal flip

    # -- model ----------------------------------------------------------------
    depth: int = 20  # 6n+2: 20 is the paper's ResNet-20; 8 is a cheap proxy
    width: int = 16  # channels of the first stage (stages: w, 2w, 4w); 16 in He et al.
    beta_init: float = 1.0  # initial per-channel beta (Swish starts at 1)

    # -- optimisation ---------------------------------------------------------
    steps: int = 10_000  # the paper's 10K steps
    batch_size: int = 128  # conventional CIFAR ResNet batch
    lr: float = 0.1  # peak learning rate (He et al. 2016 for batch 128)
    warmup_fraction: float = 0.05  # linear warm-up from 0 over this share of the steps
    min_lr_fraction: float = 0.0  # cosine decays to lr * this at the last step
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4  # on conv/linear weights only; not on BN or activation beta
    label_smoothing: float = 0.0

    # -- evaluation and logging -----------------------------------------------
    eval_batch_size: int = 1000
    eval_every: int = 0  # steps between validation points in the curves (0: only at the end)
    log_every: int = 100  # steps per train-loss point; also the divergence check on CUDA

    # -- execution ------------------------------------------------------------
    device: str = "auto"  # "auto" (cuda when available) | "cpu" | "cuda" | "cuda:N"
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True  # memory format on CUDA (ignored on CPU)
    threads: int = 1  # torch.set_num_threads inside the child (restored afterwards)
    time_limit_s: float | None = None  # wall-clock limit of one child (None: none)
    compile: str = "auto"  # "auto" | "always" | "never": see evaluator.compile_policy
    compile_mode: str = "auto"  # torch.compile mode; "auto": reduce-overhead on CUDA, else default
    compile_cost_s: float = 30.0  # "auto": expected compile time (27-84 s CPU, 16-38 s H100)
    compile_gain: float | None = None  # "auto": share of eager step time compile saves;
    # None: 0.15 on CPU, 0.6 on CUDA (see evaluator.compiling.DEFAULT_GAIN)
    deterministic: bool = False  # torch.use_deterministic_algorithms in the child

    # -- rewards for children that do not finish -------------------------------
    diverged_reward: float = 0.0  # NaN/inf loss or parameters
    invalid_reward: float = 0.0  # failed the pre-screen (non-finite, constant, linear)
    error_reward: float = 0.0  # unparseable text or an exception inside the child
    timeout_reward: float = 0.0  # ran past time_limit_s

    # The range of each number, read by the search's config loader (search.ranges: "[a, b)"
    # notation; "(-inf, inf)" is any finite number). __post_init__ keeps its own checks.
    RANGES: ClassVar[dict[str, str]] = {
        "validation_size": "[0, 49999]", "split_seed": "[0, 4294967295]",
        "train_subset": "[1, 50000]", "image_size": "[4, 256]", "depth": "[8, 1202]",
        "width": "[1, 256]", "beta_init": "[-100, 100]", "steps": "[1, 10000000]",
        "batch_size": "[1, 50000]", "lr": "(0, 100]", "warmup_fraction": "[0, 1)",
        "min_lr_fraction": "[0, 1]", "momentum": "[0, 1)", "weight_decay": "[0, 1)",
        "label_smoothing": "[0, 1)", "eval_batch_size": "[1, 50000]",
        "eval_every": "[0, 10000000]", "log_every": "[1, 10000000]", "threads": "[1, 1024]",
        "time_limit_s": "(0, 31536000]", "compile_cost_s": "[0, 86400]",
        "compile_gain": "[0, 1]", "diverged_reward": "(-inf, inf)",
        "invalid_reward": "(-inf, inf)", "error_reward": "(-inf, inf)",
        "timeout_reward": "(-inf, inf)"}

    def __post_init__(self) -> None:
        by_name = BUILTIN_TASKS.get(self.name) if self.name is not None else None
        if self.name is not None and by_name is None:
            raise ValueError(f"invalid TaskConfig: name {self.name!r} is not a built-in task "
                             f"({', '.join(BUILTIN_TASKS)}); user and table tasks go through "
                             "evaluator.run_task")
        if by_name is not None and self.dataset is not None and self.dataset != by_name:
            raise ValueError(f"invalid TaskConfig: name {self.name!r} trains on {by_name!r} "
                             f"but dataset is {self.dataset!r}; drop dataset or change the name")
        dataset = self.dataset if self.dataset is not None else (by_name or "cifar10")
        object.__setattr__(self, "dataset", dataset)  # resolved once, frozen from here on
        if self.name is None and dataset in DATASETS:
            object.__setattr__(self, "name", f"{dataset}-resnet")
        problems = list(_problems(self))
        if problems:
            raise ValueError("invalid TaskConfig: " + "; ".join(problems))

    @property
    def blocks_per_stage(self) -> int:
        """n in depth = 6n + 2."""
        return (self.depth - 2) // 6

    def to_dict(self) -> dict[str, Any]:
        """Plain data, the form that crosses to a worker."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskConfig:
        """The inverse of ``to_dict``; unknown keys are a ``ValueError`` naming them."""
        return strict_from_dict(cls, data)


def strict_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """``cls(**data)`` for a config dataclass; unknown keys are a ``ValueError`` naming them."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} needs a mapping of keys, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(map(str, unknown))} "
                         f"(valid: {', '.join(sorted(known))})")
    try:
        return cls(**data)
    except TypeError as error:  # a required key is missing
        raise ValueError(f"{cls.__name__}: {error}") from None


def _problems(task: TaskConfig):
    """Human-readable reasons why ``task`` cannot run."""
    if task.dataset not in DATASETS:
        yield f"dataset {task.dataset!r} is not one of {', '.join(DATASETS)}"
    if task.depth < 8 or (task.depth - 2) % 6:
        yield f"depth {task.depth} is not 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, ...)"
    if task.compile not in COMPILE_POLICIES:
        yield f"compile {task.compile!r} is not one of {', '.join(COMPILE_POLICIES)}"
    if not (task.device in DEVICES or task.device.startswith("cuda:")):
        yield f"device {task.device!r} is not auto, cpu, cuda or cuda:N"
    for name in ("steps", "batch_size", "width", "threads", "eval_batch_size", "log_every",
                 "image_size"):
        if getattr(task, name) < 1:
            yield f"{name} must be >= 1, got {getattr(task, name)}"
    if task.validation_size < 0:
        yield f"validation_size must be >= 0, got {task.validation_size}"
    if task.train_subset is not None and task.train_subset < 1:
        yield f"train_subset must be >= 1 or None, got {task.train_subset}"
    if not 0.0 <= task.warmup_fraction < 1.0:
        yield f"warmup_fraction must be in [0, 1), got {task.warmup_fraction}"
    if task.time_limit_s is not None and task.time_limit_s <= 0:
        yield f"time_limit_s must be > 0 or None, got {task.time_limit_s}"
    if task.compile_gain is not None and not 0.0 <= task.compile_gain <= 1.0:
        yield f"compile_gain must be in [0, 1] or None, got {task.compile_gain}"
    if task.eval_every < 0:
        yield f"eval_every must be >= 0, got {task.eval_every}"
