"""Save a trained MLP to one ``.npz`` file and load it back, refusing anything doubtful.

The file is a NumPy zip archive (``np.savez``) of plain arrays, no pickles, so loading it
cannot run code. It holds:

    format          "scratch_gd.mlp", so another program's .npz is recognised as such
    format_version  1; a future layout bumps it, and this reader refuses what it cannot read
    sizes           layer widths, e.g. [1, 32, 32, 1]
    dtype           "float32" or "float64"
    linear0.weight, linear0.bias, linear1.weight, ...   the parameters, in torch's order

Loading checks every entry against ``sizes`` before building the model, so a file of
another architecture, a truncated download or a corrupt archive is a ``CheckpointError``
(a ``ValueError``) with one line naming the file and the problem, never a NumPy traceback.
"""

from __future__ import annotations

import itertools
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..reference.mlp import MLP
from .files import atomic_write
from .text import one_line

FORMAT = "scratch_gd.mlp"
FORMAT_VERSION = 1
HEADER_KEYS = ("format", "format_version", "sizes", "dtype")

# What reading a file that is not a sound .npz can raise, from NumPy's parser, zipfile or
# zlib: a damaged archive must become a CheckpointError, not any of these.
UNREADABLE = (
    ValueError,
    EOFError,
    KeyError,
    RuntimeError,
    NotImplementedError,
    MemoryError,
    struct.error,
    zipfile.BadZipFile,
    zlib.error,
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))  # a path or entry name may hold odd characters


def parameter_names(sizes: Sequence[int]) -> list[str]:
    """Entry names in ``MLP.parameters()`` order: weight then bias, layer by layer."""
    layers = len(sizes) - 1
    return [f"linear{k}.{kind}" for k in range(layers) for kind in ("weight", "bias")]


def expected_shapes(sizes: Sequence[int]) -> list[tuple[int, ...]]:
    """Linear k maps sizes[k] inputs to sizes[k+1] outputs: weight (out, in), bias (out,)."""
    shapes: list[tuple[int, ...]] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        shapes += [(fan_out, fan_in), (fan_out,)]
    return shapes


def save_mlp(model: MLP, path: str | Path) -> Path:
    """Write ``model`` to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "sizes": np.array(model.sizes, dtype=np.int64),
        "dtype": np.array(model.dtype.name),
    }
    for name, parameter in zip(parameter_names(model.sizes), model.parameters(), strict=True):
        arrays[name] = parameter.data
    return atomic_write(path, lambda file: np.savez(file, **arrays))


def read_checkpoint(path: str | Path) -> tuple[list[int], np.dtype, list[np.ndarray]]:
    """Sizes, dtype and parameter arrays of a checkpoint, all checked against each other."""
    path = Path(path)
    arrays = _read_arrays(path)
    missing = [key for key in HEADER_KEYS if key not in arrays]
    if missing:
        raise CheckpointError(
            f"{path}: not a scratch_gd checkpoint (no {', '.join(missing)} entries); "
            "save models with MLP.save"
        )
    if _text(arrays["format"]) != FORMAT:
        raise CheckpointError(
            f"{path}: not a scratch_gd MLP checkpoint (format {_text(arrays['format'])!r})"
        )
    version = arrays["format_version"]
    if version.shape != () or version.dtype.kind not in "iu" or int(version) != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version.tolist()!r}, but this scratch_gd "
            f"reads version {FORMAT_VERSION}; save it again with this version"
        )
    sizes = _sizes(path, arrays["sizes"])
    dtype_name = _text(arrays["dtype"])
    if dtype_name not in ("float32", "float64"):
        raise CheckpointError(f"{path}: dtype {dtype_name!r}, expected float32 or float64")
    dtype = np.dtype(dtype_name)
    names = parameter_names(sizes)
    absent = [name for name in names if name not in arrays]
    if absent:
        raise CheckpointError(
            f"{path}: sizes {sizes} need {len(names)} parameter arrays, but "
            f"{', '.join(absent[:4])}{' ...' if len(absent) > 4 else ''} missing"
        )
    extra = sorted(set(arrays) - set(names) - set(HEADER_KEYS))
    if extra:
        raise CheckpointError(
            f"{path}: unexpected entries {', '.join(extra[:4])} for sizes {sizes}; "
            "the file does not match its own architecture"
        )
    parameters = []
    for name, shape in zip(names, expected_shapes(sizes), strict=True):
        array = arrays[name]
        if array.shape != shape:
            raise CheckpointError(
                f"{path}: {name} has shape {array.shape}, but sizes {sizes} say {shape}"
            )
        if array.dtype != dtype:
            raise CheckpointError(f"{path}: {name} is {array.dtype}, but the file says {dtype}")
        if not np.all(np.isfinite(array)):
            raise CheckpointError(
                f"{path}: {name} holds NaN or infinite values (saved from a diverged run?)"
            )
        parameters.append(array)
    return sizes, dtype, parameters


def load_mlp(
    path: str | Path, *, sizes: Sequence[int] | None = None, backend: str = "numba"
) -> MLP:
    """The MLP saved at ``path``; with ``sizes``, refuse a checkpoint of any other shape."""
    saved_sizes, dtype, parameters = read_checkpoint(path)
    if sizes is not None and [int(size) for size in sizes] != saved_sizes:
        raise CheckpointError(
            f"{path}: the checkpoint is an MLP with sizes {saved_sizes}, not the "
            f"{[int(size) for size in sizes]} asked for"
        )
    model = MLP(saved_sizes, dtype=dtype, seed=0, backend=backend)
    for parameter, array in zip(model.parameters(), parameters, strict=True):
        np.copyto(parameter.data, array)
    return model


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file; check the path of the checkpoint")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read it ({error.strerror or error})") from None
    except UNREADABLE:
        raise CheckpointError(
            f"{path}: not an .npz checkpoint; save models with MLP.save"
        ) from None
    if isinstance(loaded, np.ndarray):
        raise CheckpointError(f"{path}: a single .npy array, not an .npz checkpoint")
    try:
        with loaded:
            return {key: loaded[key] for key in loaded.files}
    except (*UNREADABLE, OSError) as error:
        raise CheckpointError(
            f"{path}: the checkpoint is damaged or truncated ({type(error).__name__}); "
            "save the model again"
        ) from None


def _text(array: np.ndarray) -> str:
    if array.shape != () or array.dtype.kind not in "US":
        return repr(array.tolist())[:40]
    return str(array.item() if array.dtype.kind == "U" else array.item().decode(errors="replace"))


def _sizes(path: Path, array: np.ndarray) -> list[int]:
    if array.ndim != 1 or array.dtype.kind not in "iu" or len(array) < 2 or array.min() < 1:
        raise CheckpointError(
            f"{path}: sizes entry {array.tolist()!r} is not a list of at least two widths >= 1"
        )
    return [int(size) for size in array]


# --- MLP.save and MLP.load ---------------------------------------------------------------
# The reference MLP holds maths only; file handling lives here and is attached to it, so
# ``model.save(path)`` and ``MLP.load(path)`` work wherever scratch_gd is imported.


def _save(self: MLP, path: str | Path) -> Path:
    """Write sizes, dtype and parameters to an ``.npz`` file, atomically.

    See ``scratch_gd.store.checkpoint`` for the layout; ``MLP.load`` reads it back.
    """
    return save_mlp(self, path)


def _load(
    cls: type[MLP], path: str | Path, *, sizes: Sequence[int] | None = None, backend: str = "numba"
) -> MLP:
    """The model saved at ``path``. With ``sizes``, a checkpoint of any other
    architecture is refused; any problem is a ``CheckpointError`` (a ValueError).
    """
    return load_mlp(path, sizes=sizes, backend=backend)


MLP.save = _save
MLP.load = classmethod(_load)
