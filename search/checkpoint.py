"""Strategy checkpoints as data: a tagged JSON document that cannot run code when read.

A strategy's ``state_dict`` holds plain data (numbers, strings, lists, tuples,
dicts; numpy's RNG state is a dict of ints), numpy arrays and torch tensors
(the RNN's weights, Adam's moments and step counts, its generator state).
``encode`` writes it as one JSON text::

    {"format": "actsearch-state", "version": 1, "state": VALUE}

VALUE is JSON null, a bool, an int, a finite float, a string or an array (a
Python list) as itself; everything else is an object with exactly one key, its
tag: ``{"tuple": [...]}``, ``{"dict": {str: VALUE}}`` (every key a string),
``{"items": [[KEY, VALUE], ...]}`` (other keys, such as the optimizer's
parameter ids), ``{"float": "nan" | "inf" | "-inf"}``, ``{"tensor": ARRAY}``
(torch), ``{"array": ARRAY}`` (numpy), ``{"scalar": ARRAY}`` (a numpy scalar,
shape ``[]``), where ARRAY is ``{"dtype": "float32", "shape": [2, 3], "data":
base64 of the little-endian bytes}`` for a dtype in ``DTYPES``. ``decode``
builds only these, with ``json.loads`` and ``numpy.frombuffer``: nothing in the
text is imported or called. A state holding anything else is refused when it
is saved (``TypeError`` naming where), so it never reaches a store. Dicts come
back as plain dicts (an ``OrderedDict`` too, in its order, without torch's
``_metadata``, which none of the policy's layers reads).

Older checkpoints (actsearch before this format) are ``torch.save`` bytes.
``decode`` converts them with ``torch.load(weights_only=True)``, PyTorch's
restricted unpickler (tensors and plain containers, no other class or
function), which reads every state those versions wrote; bytes it refuses (a
crafted pickle, garbage) are ``LegacyRefused``: the store ignores that
checkpoint in one line and the search resumes from its recorded results.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import sys
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

FORMAT, VERSION = "actsearch-state", 1
DTYPES = ("bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64")
_TAGS = ("tuple", "dict", "items", "float", "tensor", "array", "scalar")


class CheckpointError(ValueError):
    """A checkpoint in this format that does not decode (edited by hand, or damaged)."""


class LegacyRefused(ValueError):
    """Bytes not in this format that the safe reader of the older format refuses."""


# -- writing ----------------------------------------------------------------------------


def encode(state: dict[str, Any]) -> str:
    """The checkpoint text of a strategy's ``state_dict`` (see the module docstring)."""
    return json.dumps({"format": FORMAT, "version": VERSION, "state": _encode(state, "state")},
                      allow_nan=False, separators=(",", ":"))


def _encode(value: Any, where: str) -> Any:
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if kind is list:
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is tuple:
        return {"tuple": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if kind in (dict, OrderedDict):
        if all(type(k) is str for k in value):
            return {"dict": {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
        return {"items": [[_encode(k, f"{where} key"), _encode(v, f"{where}[{k!r}]")]
                          for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        return {"array": _array(value, where)}
    if isinstance(value, np.generic):
        return {"scalar": _array(np.asarray(value), where)}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return {"tensor": _array(value.detach().cpu().contiguous().numpy(), where)}
    raise TypeError(f"checkpoint: cannot store a {kind.__module__}.{kind.__qualname__} at "
                    f"{where}; a strategy's state_dict holds plain data, numpy arrays and "
                    "torch tensors only")


def _array(array: np.ndarray, where: str) -> dict[str, Any]:
    if array.dtype.name not in DTYPES:
        raise TypeError(f"checkpoint: cannot store an array of dtype {array.dtype} at {where} "
                        f"(only {', '.join(DTYPES)})")
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return {"dtype": array.dtype.name, "shape": list(array.shape),
            "data": base64.b64encode(little.tobytes()).decode("ascii")}


# -- reading ----------------------------------------------------------------------------


def decode(raw: str | bytes) -> dict[str, Any]:
    """The state a checkpoint holds: this format, or the older one read safely.

    ``CheckpointError``: this format, damaged; ``LegacyRefused``: not this format, and
    not an older checkpoint the safe reader accepts.
    """
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    if data.lstrip()[:1] != b"{":
        return _legacy(data)
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CheckpointError(f"not an {FORMAT} document")
        if document.get("version") != VERSION:
            raise CheckpointError(f"{FORMAT} version {document.get('version')!r}, this "
                                  f"actsearch reads {VERSION}")
        state = _decode(document.get("state"), "state")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"not JSON ({type(error).__name__})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"the state is a {type(state).__name__}, not a dict")
    return state


def _decode(value: Any, where: str) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, list):
        return [_decode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in _TAGS:
        raise CheckpointError(f"{where}: not a tagged value")
    tag, body = next(iter(value.items()))
    if tag == "tuple" and isinstance(body, list):
        return tuple(_decode(v, f"{where}[{i}]") for i, v in enumerate(body))
    if tag == "dict" and isinstance(body, dict):
        return {k: _decode(v, f"{where}[{k!r}]") for k, v in body.items()}
    if tag == "items" and isinstance(body, list) and all(
            isinstance(pair, list) and len(pair) == 2 for pair in body):
        items = [(_decode(k, f"{where} key"), _decode(v, f"{where}[{i}]"))
                 for i, (k, v) in enumerate(body)]
        try:
            return dict(items)
        except TypeError:  # an unhashable key
            raise CheckpointError(f"{where}: a key that is not hashable") from None
    if tag == "float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag in ("array", "scalar", "tensor") and isinstance(body, dict):
        array = _read_array(body, where)
        if tag == "array":
            return array
        if tag == "scalar":
            return array[()]
        import torch  # a tensor: torch is loaded already by the strategy that saved it

        return torch.from_numpy(array)
    raise CheckpointError(f"{where}: a malformed {tag!r} value")


def _read_array(body: dict[str, Any], where: str) -> np.ndarray:
    dtype, shape, data = body.get("dtype"), body.get("shape"), body.get("data")
    if dtype not in DTYPES or not isinstance(data, str) or not isinstance(shape, list) or \
            not all(type(n) is int and n >= 0 for n in shape):
        raise CheckpointError(f"{where}: a malformed array (dtype, shape or data)")
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error:
        raise CheckpointError(f"{where}: its data is not base64") from None
    little = np.dtype(dtype).newbyteorder("<")
    if len(raw) != math.prod(shape) * little.itemsize:
        raise CheckpointError(f"{where}: {len(raw)} bytes for shape {shape} of {dtype}")
    return np.frombuffer(raw, dtype=little).reshape(shape).astype(np.dtype(dtype))


def _legacy(raw: bytes) -> dict[str, Any]:
    """An older checkpoint (``torch.save`` bytes) through PyTorch's restricted unpickler."""
    import torch

    try:
        with warnings.catch_warnings():  # its notes on pickle protocols are not ours to print
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except Exception as error:  # refused, truncated, not a checkpoint at all
        named = re.search(r"GLOBAL ([\w.]+)", str(error))
        why = f"it names {named.group(1)}" if named else type(error).__name__
        raise LegacyRefused("not in this format, and the safe reader of the older one "
                            f"refuses it ({why})") from None
    if not isinstance(state, dict):
        raise LegacyRefused(f"an older checkpoint holding a {type(state).__name__}, not a "
                            "strategy's state")
    return state
