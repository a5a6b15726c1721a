"""A compact copy of CIFAR-10's 50,000 training images, small enough to carry to a GPU machine.

The device tool carries at most 64 MiB per call, code included; the official
``cifar-10-batches-py`` is 177 MB. This re-encodes each training batch (10,000
images) as one JPEG mosaic, 100 images a row, at quality 98 with no chroma
subsampling (4:4:4). Every image is a 32-pixel tile and JPEG works on 8x8
blocks, so no block straddles two images: the mosaic decodes exactly like
10,000 separate JPEGs, without 10,000 headers. Measured on the real copy:
31.9 MiB for the 50,000 images, mean absolute error 0.45 of 255, largest 11,
PSNR 49.5 dB (docs/paper-fidelity.md has the table of qualities). Labels,
counts and checksums are in ``manifest.json`` (JSON: nothing is unpickled).

``decode`` writes the real on-disk format (``cifar-10-batches-py/data_batch_1..5``,
``batches.meta``, ``test_batch``) that ``evaluator.load_dataset`` reads, so the
search runs unchanged on it. The test set is left out unless ``make --test``
(a search never reads it); without it ``test_batch`` holds zero images.

    python benchmarks/compact_cifar.py make --source ../shared/data --out .gpu/cifar10-compact
    python benchmarks/compact_cifar.py decode .gpu/cifar10-compact --out /tmp/cifar
    python benchmarks/compact_cifar.py compare runs/full.jsonl runs/compact.jsonl

A development aid, not part of the package: encoding needs Pillow (the ``test``
extra names it; matplotlib brings it anyway); decoding uses Pillow, else
torchvision.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import pickle
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluator.data import DataError, find_dataset_dir, read_batch

FORMAT, VERSION = "actsearch-cifar10-compact", 1
FOLDER = "cifar-10-batches-py"
TILE, COLUMNS = 32, 100
TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
DEFAULT_QUALITY = 98
LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]  # CIFAR-10's classes (batches.meta holds them too, as a pickle)
STAMP = ".compact-manifest"  # in a decoded folder: the manifest's SHA-256 it came from


class CompactError(DataError):
    """The compact copy is missing, damaged or of another format (one line)."""


def mosaic(images: np.ndarray, columns: int = COLUMNS) -> np.ndarray:
    """(N, 3, 32, 32) images as one (rows*32, columns*32, 3) picture, row-major, zero-filled."""
    n = len(images)
    rows = max(1, -(-n // columns))
    tiles = np.zeros((rows * columns, TILE, TILE, 3), np.uint8)
    tiles[:n] = images.transpose(0, 2, 3, 1)
    return tiles.reshape(rows, columns, TILE, TILE, 3).swapaxes(1, 2).reshape(
        rows * TILE, columns * TILE, 3)


def unmosaic(picture: np.ndarray, n: int, columns: int = COLUMNS) -> np.ndarray:
    """The inverse of ``mosaic``: the first ``n`` tiles as (n, 3, 32, 32)."""
    rows = picture.shape[0] // TILE
    tiles = picture.reshape(rows, TILE, columns, TILE, 3).swapaxes(1, 2)
    return np.ascontiguousarray(tiles.reshape(-1, TILE, TILE, 3)[:n].transpose(0, 3, 1, 2))


def encode_jpeg(picture: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture, "RGB").save(buffer, "JPEG", quality=quality, subsampling=0,
                                         optimize=True)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 from JPEG bytes: Pillow, else torchvision; one line if neither."""
    try:
        from PIL import Image
    except ImportError:
        try:
            import torch
            from torchvision.io import ImageReadMode
            from torchvision.io import decode_jpeg as tv_decode
        except ImportError:
            raise CompactError("decoding the compact copy needs Pillow or torchvision, and "
                               "neither is installed here: pip install pillow") from None
        raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        return tv_decode(raw, mode=ImageReadMode.RGB).permute(1, 2, 0).numpy()
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make(source: str | Path, out: str | Path, quality: int = DEFAULT_QUALITY,
         with_test: bool = False) -> dict:
    """Write the compact copy of ``source``'s CIFAR-10 into ``out``; its manifest."""
    folder, out = find_dataset_dir("cifar10", source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = TRAIN + (["test_batch"] if with_test else [])
    batches, errors, absolute, squares, count = [], [], 0.0, 0.0, 0
    for name in names:
        split = read_batch(folder / name)
        data = encode_jpeg(mosaic(split.images), quality)
        back = unmosaic(decode_jpeg(data), len(split))
        diff = back.astype(np.int16) - split.images
        errors.append(int(np.abs(diff).max()))
        absolute += float(np.abs(diff).sum(dtype=np.float64))
        squares += float(np.square(diff, dtype=np.float64).sum())
        count += diff.size
        (out / f"{name}.jpg").write_bytes(data)
        batches.append({"name": name, "file": f"{name}.jpg", "count": len(split),
                        "sha256": _sha256(data), "decoded_sha256": _sha256(back.tobytes()),
                        "labels": split.labels.tolist()})
    mse = squares / count
    manifest = {"format": FORMAT, "version": VERSION, "quality": quality, "subsampling": "4:4:4",
                "tile": TILE, "columns": COLUMNS, "batches": batches,
                "label_names": LABEL_NAMES,
                "error": {"max_abs": max(errors), "mean_abs": round(absolute / count, 4),
                          "rmse": round(mse ** 0.5, 4),
                          "psnr_db": round(10 * np.log10(255**2 / mse), 2) if mse else None},
                "made_with": _made_with()}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def _made_with() -> str:
    import PIL

    return f"Pillow {PIL.__version__}"


def read_manifest(compact: str | Path) -> dict:
    """The checked manifest of a compact copy; ``CompactError`` naming what is wrong."""
    path = Path(compact) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise CompactError(f"{path}: missing; make the copy with "
                           "`python benchmarks/compact_cifar.py make`") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise CompactError(f"{path}: not JSON ({error}); make the copy again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CompactError(f"{path}: not a compact CIFAR-10 manifest (format {FORMAT!r})")
    if manifest.get("version") != VERSION:
        raise CompactError(f"{path}: version {manifest.get('version')!r}, this reader knows "
                           f"{VERSION}; make the copy again with this checkout")
    batches = manifest.get("batches")
    names = [b.get("name") for b in batches if isinstance(b, dict)] \
        if isinstance(batches, list) else []
    if names not in (TRAIN, [*TRAIN, "test_batch"]) or len(names) != len(batches):
        raise CompactError(f"{path}: batches {names}, expected {TRAIN} (and test_batch)")
    columns, labels = manifest.get("columns"), manifest.get("label_names")
    files = [b.get("file") for b in batches]
    if not (isinstance(columns, int) and columns >= 1 and isinstance(labels, list) and
            all(isinstance(f, str) and f == Path(f).name for f in files)):
        raise CompactError(f"{path}: columns, label_names or file names are malformed; "
                           "make the copy again")
    return manifest


def decode(compact: str | Path, dest: str | Path) -> Path:
    """Decode ``compact`` into ``dest/cifar-10-batches-py`` (the real format); that folder.

    A folder already decoded from the same manifest is kept as it is.
    """
    compact, target = Path(compact), Path(dest) / FOLDER
    manifest = read_manifest(compact)
    stamp = _sha256((compact / "manifest.json").read_bytes())
    if (target / STAMP).is_file() and (target / STAMP).read_text() == stamp:
        return target
    if (target / TRAIN[0]).exists() and not (target / STAMP).is_file():
        raise CompactError(f"{target}: holds a CIFAR-10 copy that was not decoded from a "
                           "compact one; decode into another folder")
    target.mkdir(parents=True, exist_ok=True)
    identical = True
    for batch in manifest["batches"]:
        images, labels = _decode_batch(compact, batch, manifest["columns"])
        identical &= _sha256(images.tobytes()) == batch["decoded_sha256"]
        _dump(target / batch["name"], {"batch_label": f"{batch['name']} (compact copy, JPEG "
                                                      f"quality {manifest['quality']})",
                                       "labels": labels, "data": images.reshape(len(images), -1)})
    if len(manifest["batches"]) == 5:
        _dump(target / "test_batch", {"batch_label": "test set left out of the compact copy",
                                      "labels": [], "data": np.zeros((0, 3072), np.uint8)})
    _dump(target / "batches.meta", {"label_names": manifest["label_names"],
                                    "num_cases_per_batch": 10000, "num_vis": 3072})
    if not identical:
        print(f"{compact}: decoded with another JPEG decoder than the one that made it: "
              "pixels may differ by a level or so from the recorded error", file=sys.stderr)
    (target / STAMP).write_text(stamp)
    return target


def _decode_batch(compact: Path, batch: dict, columns: int) -> tuple[np.ndarray, list[int]]:
    """One batch's images and labels, after its checksum, size and label checks."""
    path = compact / str(batch.get("file"))
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CompactError(f"{path}: cannot read ({error.strerror}); copy it again") from None
    if _sha256(data) != batch.get("sha256"):
        raise CompactError(f"{path}: checksum differs from manifest.json (damaged or "
                           "truncated in transfer); copy the compact folder again")
    count, labels = batch.get("count"), batch.get("labels")
    picture = decode_jpeg(data)
    rows = -(-count // columns) if isinstance(count, int) and count > 0 else 0
    if picture.shape != (rows * TILE, columns * TILE, 3) or not isinstance(labels, list) or \
            len(labels) != count or any(not isinstance(v, int) or not 0 <= v < 10
                                        for v in labels):
        raise CompactError(f"{path}: {picture.shape} picture, {count!r} images and "
                           f"{len(labels) if isinstance(labels, list) else labels!r} labels "
                           "(labels 0..9) do not agree; make the copy again")
    return unmosaic(picture, count, columns), labels


def _dump(path: Path, batch: dict) -> None:
    """A batch file: a pickled dict with bytes keys, as the official ones. Protocol 4, not
    the official 2: protocol 2 pickles an empty array's bytes as a call of ``bytes``,
    which the evaluator's restricted unpickler rightly refuses."""
    with open(path, "wb") as f:
        pickle.dump({k.encode(): v for k, v in batch.items()}, f, protocol=4)


def compare(full: str | Path, compact: str | Path) -> str:
    """Markdown: per function and seed, accuracy on the full and the compact copy and their
    paired difference (same seed: same initial weights, batches and crops); then the mean
    absolute difference beside the seed-to-seed standard deviation on the full copy."""
    from benchmarks.fidelity_rows import accuracy, accuracy_text, read_results

    first, second = ({(r["function"], r["seed"]): r for r in read_results(Path(p))}
                     for p in (full, compact))
    lines = ["| function | seed | full % | compact % | compact − full (points) |",
             "|---|---:|---:|---:|---:|"]
    diffs, by_function = [], {}
    for key in sorted(set(first) & set(second)):
        a, b = accuracy(first[key]), accuracy(second[key])
        both = a is not None and b is not None
        lines.append(f"| {key[0]} | {key[1]} | {accuracy_text(first[key])} | "
                     f"{accuracy_text(second[key])} | "
                     f"{f'{100 * (b - a):+.2f}' if both else '–'} |")
        if both:
            diffs.append(abs(100 * (b - a)))
            by_function.setdefault(key[0], []).append(100 * a)
    spreads = [statistics.stdev(v) for v in by_function.values() if len(v) > 1]
    if diffs:
        noise = (f"seed-to-seed std on the full copy {statistics.fmean(spreads):.2f} points "
                 f"(mean over {len(spreads)} functions)" if spreads
                 else "one seed each: no seed spread to compare with")
        lines.append(f"\nmean |compact − full| {statistics.fmean(diffs):.2f} points over "
                     f"{len(diffs)} pairs (largest {max(diffs):.2f}); {noise}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    making = commands.add_parser("make", help="write the compact copy of a CIFAR-10 folder")
    making.add_argument("--source", required=True, help="folder holding cifar-10-batches-py")
    making.add_argument("--out", required=True, help="folder for the compact copy")
    making.add_argument("--quality", type=int, default=DEFAULT_QUALITY, choices=range(50, 101),
                        metavar="50..100")
    making.add_argument("--test", action="store_true", help="also carry the 10,000 test images")
    decoding = commands.add_parser("decode", help="decode a compact copy into the real format")
    decoding.add_argument("compact")
    decoding.add_argument("--out", required=True, help="root to write cifar-10-batches-py into")
    comparing = commands.add_parser("compare", help="two paper_fidelity results files, "
                                                    "full copy first")
    comparing.add_argument("full")
    comparing.add_argument("compact")
    args = parser.parse_args(argv)
    try:
        if args.command == "make":
            manifest = make(args.source, args.out, args.quality, args.test)
            size = sum(p.stat().st_size for p in Path(args.out).iterdir())
            print(f"{args.out}: {sum(b['count'] for b in manifest['batches'])} images, "
                  f"{size / 2**20:.1f} MiB, JPEG quality {args.quality} 4:4:4, error "
                  f"{json.dumps(manifest['error'])} ({manifest['made_with']})")
        elif args.command == "decode":
            print(decode(args.compact, args.out))
        else:
            print(compare(args.full, args.compact))
    except DataError as error:
        print(f"compact_cifar: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
