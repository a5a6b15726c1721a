"""CIFAR-10 / CIFAR-100 from the standard "python version" layout, and their download.

Reads ``cifar-10-batches-py/`` (``data_batch_1..5``, ``test_batch``) or
``cifar-100-python/`` (``train``, ``test``; fine labels) from the data root:
``TaskConfig.data_dir``, else ``$ACTSEARCH_DATA``, else ``~/.cache/actsearch``
(``$XDG_CACHE_HOME/actsearch`` when set). Pickle keys may be bytes (official
Python 2 files) or str. Unpickling is restricted to numpy arrays and plain
containers, so a data file cannot run code.

The validation split is deterministic and stratified: ``validation_size``
training images, an equal share of each class (remainders to the lowest
labels), chosen by ``split_seed``. The test set is only returned for final
reporting; a search never reads it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from space.lazy import LazyModule

np = LazyModule("numpy", globals(), "np")  # imported on first use: DataError is read without it

ENV_VAR = "ACTSEARCH_DATA"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
DOWNLOADS = {"cifar10": (CIFAR10_URL, CIFAR10_MD5), "cifar100": (CIFAR100_URL, CIFAR100_MD5)}

_LAYOUTS = {
    # dataset: (folder, training files, test files, label key, classes)
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)],
                ["test_batch"], "labels", 10),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels", 100),
}
_HOW_TO = ("set data_dir in the task config or $ACTSEARCH_DATA to the folder holding it, "
           "or run `actsearch data {name}`")


class DataError(RuntimeError):
    """The data set is missing, corrupt or malformed; the message is one line."""


@dataclass(frozen=True)
class Split:
    """Images as uint8 (N, 3, H, W) and labels as int64 (N,), on the CPU."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    """Train (validation removed), validation and test splits of one data set."""

    name: str
    num_classes: int
    train: Split
    val: Split
    test: Split
    train_index: np.ndarray  # positions of train images in the original 50,000
    val_index: np.ndarray  # positions of validation images in the original 50,000


def default_root() -> Path:
    """Where data sets live when the config names no ``data_dir``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "actsearch"


def find_dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding ``name``'s files; ``DataError`` saying where it looked if none.

    ``data_dir`` may be the data set's own folder or the root that contains it.
    """
    folder = _LAYOUTS[name][0]
    root = Path(data_dir).expanduser() if data_dir is not None else default_root()
    candidates = [root / folder, root]
    for candidate in candidates:
        if (candidate / _LAYOUTS[name][1][0]).is_file():
            return candidate
    looked = " and ".join(str(c) for c in candidates)
    source = "data_dir" if data_dir is not None else (
        f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the default cache")
    raise DataError(f"{name} not found (looked in {looked}, from {source}): "
                    + _HOW_TO.format(name=name))


# -- reading ------------------------------------------------------------------------

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtin containers only."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _get(batch: dict, key: str):
    """``batch[key]`` under either spelling (b'data' or 'data')."""
    if key in batch:
        return batch[key]
    if key.encode() in batch:
        return batch[key.encode()]
    raise KeyError(key)


def read_batch(path: Path, label_key: str = "labels") -> Split:
    """One pickled batch file; ``DataError`` naming the file if it is corrupt or malformed."""
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
        if not isinstance(batch, dict):
            raise TypeError(f"expected a dict, got {type(batch).__name__}")
        data = np.asarray(_get(batch, "data"), dtype=np.uint8)
        labels = np.asarray(_get(batch, label_key), dtype=np.int64)
    except FileNotFoundError:
        raise DataError(f"{path}: missing file (the data set is incomplete; delete its folder "
                        "and provide it again)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError,
            IndexError, OverflowError, MemoryError) as e:
        raise DataError(f"{path}: corrupt or truncated CIFAR batch ({type(e).__name__}: {e}); "
                        "delete it and provide the data set again") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{path}: malformed CIFAR batch (data shape {data.shape}, "
                        f"{len(labels)} labels; expected (N, 3072) and N labels)")
    return Split(data.reshape(-1, 3, 32, 32), labels)


def _read_files(folder: Path, names: list[str], label_key: str, classes: int) -> Split:
    parts = [read_batch(folder / n, label_key) for n in names]
    split = Split(np.concatenate([p.images for p in parts]),
                  np.concatenate([p.labels for p in parts]))
    if len(split) and (split.labels.min() < 0 or split.labels.max() >= classes):
        raise DataError(f"{folder}: labels outside 0..{classes - 1}")
    return split


def stratified_split(labels: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train positions, validation positions): ``size`` positions drawn evenly per class."""
    if not 0 <= size < len(labels):
        raise DataError(f"validation_size {size} must be in [0, {len(labels)})")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    quota = np.full(len(classes), size // len(classes))
    quota[: size % len(classes)] += 1
    val = []
    for c, q in zip(classes, quota):
        members = np.flatnonzero(labels == c)
        if q > len(members):
            raise DataError(f"validation_size {size} needs {q} images of class {c}, "
                            f"only {len(members)} exist")
        val.append(rng.permutation(members)[:q])
    val_index = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    train_mask = np.ones(len(labels), dtype=bool)
    train_mask[val_index] = False
    return np.flatnonzero(train_mask), val_index


def load_dataset(name: str = "cifar10", data_dir: str | os.PathLike | None = None,
                 validation_size: int = 5000, split_seed: int = 0) -> Dataset:
    """Read a data set and hold out a stratified validation split (cached per process)."""
    if name not in _LAYOUTS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(_LAYOUTS)}")
    folder = find_dataset_dir(name, data_dir)
    return _load_cached(name, str(folder.resolve()), validation_size, split_seed)


@lru_cache(maxsize=2)
def _load_cached(name: str, folder: str, validation_size: int, split_seed: int) -> Dataset:
    _, train_files, test_files, label_key, classes = _LAYOUTS[name]
    full = _read_files(Path(folder), train_files, label_key, classes)
    test = _read_files(Path(folder), test_files, label_key, classes)
    train_index, val_index = stratified_split(full.labels, validation_size, split_seed)
    take = lambda idx: Split(full.images[idx], full.labels[idx])  # noqa: E731
    return Dataset(name, classes, take(train_index), take(val_index), test,
                   train_index, val_index)


# -- download -----------------------------------------------------------------------

def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def install_archive(archive: Path, dest: Path, md5: str | None = CIFAR10_MD5) -> Path:
    """Verify ``archive``'s MD5, extract it safely into ``dest``; the data set folder."""
    archive, dest = Path(archive), Path(dest)
    if md5 is not None and (actual := md5sum(archive)) != md5:
        raise DataError(f"{archive}: MD5 {actual} does not match the published {md5}; "
                        "the download is corrupt, delete it and try again")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                target = (dest / member.name).resolve()
                if not (member.isfile() or member.isdir()) or dest.resolve() not in (
                        target, *target.parents):
                    raise DataError(f"{archive}: unsafe archive member {member.name!r}")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12
                tar.extractall(dest, filter="data")
            else:  # members were checked above: plain files and folders inside dest
                tar.extractall(dest)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{archive}: cannot extract ({e})") from None
    tops = set(os.listdir(dest))
    for name, layout in _LAYOUTS.items():
        if layout[0] in tops:
            return find_dataset_dir(name, dest)
    raise DataError(f"{archive}: no CIFAR folder inside after extraction into {dest}")


def download_dataset(name: str, dest: str | os.PathLike | None = None, url: str | None = None,
                     md5: str | None = None, timeout_s: float = 60.0) -> Path:
    """Fetch ``name``'s official archive into ``dest`` (default root), verify, extract; the folder.

    ``url`` and ``md5`` default to the published ones (``DOWNLOADS``).
    """
    if name not in DOWNLOADS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(DOWNLOADS)}")
    url = url or DOWNLOADS[name][0]
    md5 = md5 or DOWNLOADS[name][1]
    dest = Path(dest).expanduser() if dest is not None else default_root()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest, suffix=".tar.gz", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response, \
                    open(partial, "wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise DataError(f"cannot download {url} ({reason}); copy an existing "
                            f"{_LAYOUTS[name][0]} folder into {dest} or set ${ENV_VAR}") from None
        return install_archive(partial, dest, md5)
    finally:
        partial.unlink(missing_ok=True)


def download_cifar10(dest: str | os.PathLike | None = None, url: str = CIFAR10_URL,
                     md5: str = CIFAR10_MD5, timeout_s: float = 60.0) -> Path:
    """CIFAR-10's archive into ``dest`` (default root), verified and extracted; the folder."""
    return download_dataset("cifar10", dest, url, md5, timeout_s)


def download_cifar100(dest: str | os.PathLike | None = None, url: str = CIFAR100_URL,
                      md5: str = CIFAR100_MD5, timeout_s: float = 60.0) -> Path:
    """CIFAR-100's archive into ``dest`` (default root), verified and extracted; the folder."""
    return download_dataset("cifar100", dest, url, md5, timeout_s)
