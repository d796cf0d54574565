"""Data to train on, behind one function: the lesson's parabola, a real data set, or a CSV.

``load_dataset("lesson")`` is the lesson's synthetic data, untouched. ``"diabetes"`` is
scikit-learn's bundled diabetes set (442 patients, 10 measurements, disease progression a
year later). Anything else is the path of a CSV file with a header row.

Real data is standardised: each column becomes z = (v - mean) / std, with the mean and
standard deviation of the *training* split only (using the validation rows would leak
them into training). Without it, a column measured in thousands would dominate the
gradient and one learning rate could not suit every weight. A column that is constant in
the training split has std 0; it is divided by 1 instead (it becomes all zeros and carries
no information), and a ``DataWarning`` says so once. A constant *target* is an error:
there is nothing to learn.

Every problem with a file is a ``DataError`` whose one-line message names the file, the
row (1-based, as a spreadsheet shows it: the header is row 1), the column and the fix.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..reference.data import as_dtype, lesson_data
from .files import TooLarge, read_bounded
from .text import one_line

BUILT_IN = ("lesson", "diabetes")
DEFAULT_VALIDATION = 0.2  # for real data; the lesson holds nothing out
MAX_BYTES = 200 * 1024 * 1024  # a CSV larger than this is not a teaching data set


class DataError(ValueError):
    """A data source that cannot be used; the message is one line naming file, row, column, fix."""

    def __init__(self, message: str) -> None:
        # Names and paths come from the user's file; keep even odd ones on one line.
        super().__init__(one_line(message))


class DataWarning(UserWarning):
    """Data that can be used but deserves a note, e.g. a constant column."""


@dataclass
class Dataset:
    """Training (and optional validation) arrays, plus what is needed to read them.

    Arrays are 2-D: x is (N, n_features), y is (N, 1). ``x_val``/``y_val`` are None when
    nothing was held out. ``x_mean``/``x_std``/``y_mean``/``y_std`` are the training split's
    statistics used to standardise (zeros and ones for the lesson, which is not
    standardised), so ``original_target`` maps a prediction back to the target's units.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    feature_names: list[str]
    target_name: str
    description: str
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_val(self) -> int:
        return 0 if self.x_val is None else int(self.x_val.shape[0])

    def original_target(self, y: np.ndarray) -> np.ndarray:
        """Undo the target's standardisation: y * std + mean, in float64."""
        return np.asarray(y, dtype=np.float64) * self.y_std + self.y_mean


def load_dataset(
    source: str | Path = "lesson",
    target: str | int | None = None,
    *,
    n: int = 1000,
    seed: int = 0,
    validation: float | None = None,
    dtype: np.dtype | type | str = np.float32,
) -> Dataset:
    """Load ``source`` ("lesson", "diabetes" or a CSV path) as a ``Dataset``.

    ``target`` picks the CSV column to predict (header name, or 0-based index with -1 the
    last); ``n`` is the number of lesson samples; ``validation`` the fraction held out
    (None: 0 for the lesson, 0.2 otherwise), chosen by a shuffle seeded with ``seed``.
    Raises ``DataError`` (a ``ValueError``) with a one-line message for any bad input.
    The built-in names win over files: a CSV file named ``lesson`` is read as ``./lesson``.
    """
    dtype = as_dtype(dtype)
    source_text = str(source)
    if validation is None:
        validation = 0.0 if source_text == "lesson" else DEFAULT_VALIDATION
    validation = float(validation)
    if not math.isfinite(validation) or not 0 <= validation < 1:
        raise DataError(f"validation fraction must satisfy 0 <= F < 1, got {validation}")
    if source_text == "lesson":
        if target is not None:
            raise DataError("the lesson data has one input and one target; drop the target")
        return _lesson(n, seed, validation, dtype)
    if source_text == "diabetes":
        if target is not None:
            raise DataError("the diabetes data's target is fixed (disease progression); drop it")
        names, table, target_index, label = _diabetes_table()
        row_names = [f"sample {k + 1}" for k in range(len(table))]
    else:
        # Problems in the order a user fixes them: the file, its header, the target, the rows.
        names, rows = _read_header(source)
        if target is None:
            raise DataError(
                f"{source_text}: a CSV file needs a target column; name it with --target "
                "(header name or 0-based index)"
            )
        target_index = _target_index(source_text, names, target)
        table, row_numbers = _read_rows(source, names, rows)
        row_names = [f"row {number}" for number in row_numbers]
        label = Path(source_text).name
    return _standardised_split(
        source_text, label, names, row_names, table, target_index, seed, validation, dtype
    )


def data_config(dataset: Dataset) -> dict:
    """What a run record says about the data: where it came from, its columns, its split."""
    return {
        "source": dataset.name,
        "description": dataset.description,
        "features": dataset.feature_names,
        "target": dataset.target_name,
        "n_train": dataset.n_train,
        "n_validation": dataset.n_val,
    }


# --- The three sources -----------------------------------------------------------------------


def _lesson(n: int, seed: int, validation: float, dtype: np.dtype) -> Dataset:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise DataError(f"the lesson data needs a whole number of samples >= 1, got {n!r}")
    x, y = lesson_data(int(n), seed=seed, dtype=dtype)
    n_val = _validation_rows(n, validation)
    if n_val and n - n_val < 1:
        raise DataError(
            f"lesson data: {n} samples leave none for training after holding out "
            f"{n_val} for validation; raise n or lower the validation fraction"
        )
    x_val = y_val = None
    if n_val:
        order = np.random.default_rng(seed).permutation(n)
        val_rows, train_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
        x, x_val, y, y_val = x[train_rows], x[val_rows], y[train_rows], y[val_rows]
    split = f"{len(x)} train / {n_val} validation" if n_val else f"{len(x)} samples"
    return Dataset(
        name="lesson",
        x_train=x,
        y_train=y,
        x_val=x_val,
        y_val=y_val,
        feature_names=["x"],
        target_name="y",
        description=f"lesson data: y = 0.3 x^2 + noise, {split}",
        x_mean=np.zeros(1),
        x_std=np.ones(1),
        y_mean=np.zeros(1),
        y_std=np.ones(1),
    )


def _diabetes_table() -> tuple[list[str], np.ndarray, int, str]:
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise DataError(
            "the diabetes data set comes with scikit-learn, which is not installed; "
            "pip install scikit-learn (or pip install 'scratch_gd[diabetes]')"
        ) from None
    bunch = load_diabetes(scaled=False)  # raw units; we standardise like any other data
    names = [*bunch.feature_names, "progression"]
    table = np.column_stack([bunch.data, bunch.target]).astype(np.float64)
    return names, table, len(names) - 1, "diabetes"


def read_csv_table(path: str | Path) -> tuple[list[str], np.ndarray, list[int]]:
    """Header names, a float64 table of every data row and each row's number in the file
    (blank lines are skipped, so they can differ from the table's index), or a ``DataError``.

    Comma-separated, UTF-8 (a byte-order mark is fine), the first row naming the columns;
    blank lines are skipped. Every cell must be a finite number.
    """
    names, rows = _read_header(path)
    table, row_numbers = _read_rows(path, names, rows)
    return names, table, row_numbers


def _read_header(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The checked header names and the (row number, cells) of every row, header first."""
    text = _read_text(Path(path))
    rows = list(_csv_rows(path, text))
    if not rows:
        raise DataError(f"{path}: the file is empty; a CSV needs a header row and data rows")
    header_row, header = rows[0]
    names = [name.strip() for name in header]
    _check_header(path, header_row, names)
    return names, rows


def _read_rows(
    path: str | Path, names: list[str], rows: list[tuple[int, list[str]]]
) -> tuple[np.ndarray, list[int]]:
    """The data rows (all but the header) as a float64 table, and their row numbers."""
    header_row, data_rows = rows[0][0], rows[1:]
    if not data_rows:
        raise DataError(
            f"{path}: row {header_row} is the header but no data rows follow; add data rows"
        )
    if len(data_rows) == 1:
        raise DataError(
            f"{path}: only one data row (row {data_rows[0][0]}); "
            "need at least 2 rows to train and standardise"
        )
    table = np.empty((len(data_rows), len(names)), dtype=np.float64)
    for index, (row_number, cells) in enumerate(data_rows):
        if len(cells) != len(names):
            missing_or_extra = (
                f"column {names[len(cells)]!r} is missing"
                if len(cells) < len(names)
                else f"{_count(len(cells) - len(names), 'cell')} beyond the last column"
            )
            raise DataError(
                f"{path}: row {row_number} has {_count(len(cells), 'cell')} but the header has "
                f"{len(names)} columns ({missing_or_extra}); make every row as long as the header"
            )
        for column, cell in enumerate(cells):
            table[index, column] = _number(path, row_number, names, column, cell)
    return table, [row_number for row_number, _ in data_rows]


# --- CSV parsing, one check at a time ----------------------------------------------------------


def _read_text(path: Path) -> str:
    where = f"{path}"
    try:
        if path.is_dir():
            raise DataError(f"{where}: is a folder, not a CSV file; give the path of a file")
        if not path.exists():
            raise DataError(
                f"{where}: no such file; give the path of a CSV file "
                f"(or a built-in data set: {', '.join(BUILT_IN)})"
            )
        # Count the bytes read, not the size the file claims: /dev/zero and pipes say 0.
        raw = read_bounded(path, MAX_BYTES)
    except TooLarge:
        raise DataError(
            f"{where}: the file is larger than {MAX_BYTES // 2**20} MB; use a smaller sample"
        ) from None
    except DataError:
        raise
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DataError(
            f"{where}: cannot read the file ({reason}); check its permissions"
        ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        row = raw.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{where}: row {row} is not UTF-8 text (byte 0x{raw[error.start]:02x}); "
            "save the file as UTF-8 CSV"
        ) from None


def _csv_rows(path: str | Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (row number, cells) for every non-blank row; row numbers count every line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        # A quoted cell may span lines: a row is numbered by the line it starts on.
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataError(
                f"{path}: row {start} is not valid CSV ({error}); check its quotes and separators"
            ) from None
        if any(cell.strip() for cell in cells):
            yield start, cells


def _check_header(path: str | Path, row: int, names: list[str]) -> None:
    # A tab is never part of a name; a semicolon may be, unless it is all one "column".
    for separator, label in (("\t", "tab"), (";", "semicolon")):
        suspects = names if separator == "\t" else names[:1] if len(names) == 1 else []
        if any(separator in name for name in suspects):
            raise DataError(
                f"{path}: row {row} (the header) holds a {label}, so the file looks "
                f"{label}-separated; scratch_gd reads comma-separated files: save it as CSV "
                "with commas"
            )
    first_column: dict[str, int] = {}  # name -> its first column: one pass, not n^2
    for column, name in enumerate(names):
        if any(not character.isprintable() for character in name):
            raise DataError(
                f"{path}: row {row} (the header) names column {column + 1} {name!r}, with an "
                "unprintable character; use plain names"
            )
        if not name:
            raise DataError(
                f"{path}: row {row} (the header) leaves column {column + 1} unnamed; "
                "give every column a name"
            )
        if name in first_column:
            raise DataError(
                f"{path}: row {row} (the header) names two columns {name!r} "
                f"(columns {first_column[name] + 1} and {column + 1}); rename one"
            )
        first_column[name] = column
    if all(is_number(name) for name in names):
        # Some numeric names are fine (a column "2020"); a row of nothing else is data.
        raise DataError(
            f"{path}: row {row} should be a header of column names but holds only numbers "
            f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); add a header row"
        )
    if len(names) < 2:
        raise DataError(
            f"{path}: row {row} (the header) names only one column ({names[0]!r}); a CSV needs "
            "the target and at least one feature column, separated by commas"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a float (a header made of numbers is probably data)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(path: str | Path, row: int, names: list[str], column: int, cell: str) -> float:
    where = f"{path}: row {row}, column {names[column]!r} (column {column + 1})"
    text = cell.strip()
    if not text:
        raise DataError(f"{where} is empty; fill it in or delete the row")
    try:
        value = float(text)
    except ValueError:
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise DataError(f"{where}: {shown!r} is not a number; every cell must be numeric") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {text!r} is not a finite number; fix or delete the row")
    return value


def _target_index(path: str, names: list[str], target: str | int) -> int:
    if isinstance(target, str) and target.strip() in names:
        return names.index(target.strip())
    try:
        index = int(target)
    except (TypeError, ValueError):
        shown = ", ".join(names) if len(names) <= 12 else ", ".join(names[:12]) + ", ..."
        raise DataError(
            f"{path}: no target column {target!r} in row 1 (the header); columns are: {shown}"
        ) from None
    if not -len(names) <= index < len(names):
        raise DataError(
            f"{path}: target column index {index} is out of range; row 1 (the header) has "
            f"{len(names)} columns, indices 0 to {len(names) - 1}"
        )
    return index % len(names)


# --- Split and standardise ---------------------------------------------------------------------


def _validation_rows(rows: int, validation: float) -> int:
    """Rows held out: ceil(rows * fraction), as scikit-learn's train_test_split rounds."""
    return math.ceil(rows * validation - 1e-9) if validation > 0 else 0


def _standardised_split(
    where: str,
    label: str,
    names: list[str],
    row_names: list[str],
    table: np.ndarray,
    target_index: int,
    seed: int,
    validation: float,
    dtype: np.dtype,
) -> Dataset:
    """Split ``table`` (shuffled by ``seed``, if anything is held out) and standardise both
    parts with the training rows' statistics. ``where`` names the source in errors (the path
    as given), ``row_names`` each row ("row 7"); ``label`` names it in the description."""
    rows = len(table)
    n_val = _validation_rows(rows, validation)
    if rows - n_val < 2:
        raise DataError(
            f"{where}: {rows} data rows, {n_val} held out for validation (fraction "
            f"{validation:g}) leaves {rows - n_val} for training; need at least 2: "
            "lower the validation fraction (--validation) or add rows"
        )
    order = np.random.default_rng(seed).permutation(rows) if n_val else np.arange(rows)
    train, held_out = table[order[n_val:]], table[order[:n_val]]
    feature_columns = [c for c in range(len(names)) if c != target_index]
    target_name = names[target_index]
    mean, std = _training_statistics(where, names, train, target_index)
    _check_scale(where, names, [row_names[k] for k in order[n_val:]], train, mean, std)

    def standardise(part: np.ndarray) -> np.ndarray:
        # A held-out value far outside the training range can overflow float32; the check
        # below turns that into a DataError instead of a warning and an inf.
        with np.errstate(over="ignore", invalid="ignore"):
            return ((part - mean) / std).astype(dtype)

    train_z = standardise(train)
    held_out_z = standardise(held_out) if n_val else None
    for part, rows_of_part in ((train_z, order[n_val:]), (held_out_z, order[:n_val])):
        if part is not None and not np.all(np.isfinite(part)):
            row, column = (int(i) for i in np.argwhere(~np.isfinite(part))[0])
            value = table[rows_of_part[row], column]
            raise DataError(
                f"{where}: {row_names[rows_of_part[row]]}, column {names[column]!r} (column "
                f"{column + 1}): {value:g} is too far from the training rows (mean "
                f"{mean[column]:.3g}, std {std[column]:.3g}) to standardise in {dtype.name}; "
                "rescale that column or drop the row"
            )
    _warn_beyond_dtype(where, names, table, dtype)
    split = f"{len(train)} train / {n_val} validation" if n_val else f"{len(train)} samples"
    features = [names[c] for c in feature_columns]
    return Dataset(
        name=label,
        x_train=np.ascontiguousarray(train_z[:, feature_columns]),
        y_train=np.ascontiguousarray(train_z[:, [target_index]]),
        x_val=None if held_out_z is None else np.ascontiguousarray(held_out_z[:, feature_columns]),
        y_val=None if held_out_z is None else np.ascontiguousarray(held_out_z[:, [target_index]]),
        feature_names=features,
        target_name=target_name,
        description=(
            f"{label}: {len(features)} feature{'s' * (len(features) != 1)} -> {target_name}, "
            f"{split}, standardised"
        ),
        x_mean=mean[feature_columns],
        x_std=std[feature_columns],
        y_mean=mean[[target_index]],
        y_std=std[[target_index]],
    )


def _warn_beyond_dtype(where: str, names: list[str], table: np.ndarray, dtype: np.dtype) -> None:
    """One warning, ours, for columns whose raw values ``dtype`` cannot hold: training is
    fine (it sees standardised values), but anything shown in the column's own units is not."""
    beyond = np.nonzero(np.abs(table).max(axis=0) > np.finfo(dtype).max)[0]
    if len(beyond):
        listed = ", ".join(repr(names[c]) for c in beyond[:3]) + (
            ", ..." if len(beyond) > 3 else ""
        )
        warnings.warn(
            f"{where}: column(s) {listed} hold values beyond {dtype.name}'s range "
            f"(+-{np.finfo(dtype).max:.3g}); training sees them standardised, but figures in "
            "their own units may be empty: rescale them or use --dtype float64",
            DataWarning,
            stacklevel=4,
        )


def _training_statistics(
    where: str, names: list[str], train: np.ndarray, target_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std of the training rows; a constant column gets std 1."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        mean = train.mean(axis=0)
        std = train.std(axis=0)
        constant = np.ptp(train, axis=0) == 0
    # A constant column: centre on its value exactly (zeros, not rounding noise) and divide
    # by 1. So is a spread so tiny (below ~1e-160) that its squares underflow to a zero std.
    mean = np.where(constant, train[0], mean)
    std = np.where(constant | (std == 0), 1.0, std)
    if constant[target_index]:
        raise DataError(
            f"{where}: target column {names[target_index]!r} (column {target_index + 1}) has the "
            f"same value ({train[0, target_index]:g}) in every training row; nothing to learn"
        )
    if np.any(constant):
        listed = ", ".join(repr(names[c]) for c in np.nonzero(constant)[0])
        warnings.warn(
            f"{where}: constant column(s) {listed} in the training rows carry no information; "
            "they become zeros",
            DataWarning,
            stacklevel=4,
        )
    return mean, std


def _check_scale(
    where: str,
    names: list[str],
    row_names: list[str],
    train: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
) -> None:
    """Values beyond about 1e150 overflow the squares in the std: name the row and column."""
    bad = ~(np.isfinite(mean) & np.isfinite(std))
    if np.any(bad):
        column = int(np.nonzero(bad)[0][0])
        row = int(np.argmax(np.abs(train[:, column])))
        raise DataError(
            f"{where}: {row_names[row]}, column {names[column]!r} (column {column + 1}): "
            f"{train[row, column]:g} is too large to standardise (squares overflow beyond "
            "about 1e150); rescale that column"
        )
