"""scratch_gd.store.datasets: the lesson data, scikit-learn's diabetes set and CSV files behind
one API, and a clear one-line DataError for every kind of bad file."""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from scratch_gd.cli.arguments import add_data_arguments, dataset_from_args
from scratch_gd.cli.main import CleanParser
from scratch_gd.reference.data import lesson_data
from scratch_gd.store.datasets import (
    DataError,
    Dataset,
    DataWarning,
    load_dataset,
)


def write_csv(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def house_table(rows: int = 20, seed: int = 1) -> np.ndarray:
    """Columns on very different scales, as real data has: area (m^2), rooms, price."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 200, rows)
    rooms = rng.integers(1, 6, rows).astype(float)
    price = 3000 * area + 10000 * rooms + rng.normal(0, 5000, rows)
    return np.column_stack([area, rooms, price])


def house_csv(tmp_path: Path, rows: int = 20) -> tuple[Path, np.ndarray]:
    table = house_table(rows)
    lines = ["area,rooms,price"] + [",".join(repr(float(v)) for v in row) for row in table]
    return write_csv(tmp_path, "\n".join(lines) + "\n"), table


# --- The lesson data ---------------------------------------------------------------------------


def test_lesson_data_is_the_lessons_own_untouched():
    dataset = load_dataset()
    x, y = lesson_data(1000, seed=0)
    assert isinstance(dataset, Dataset)
    np.testing.assert_array_equal(dataset.x_train, x)
    np.testing.assert_array_equal(dataset.y_train, y)
    assert dataset.x_val is None and dataset.y_val is None
    assert dataset.n_features == 1 and dataset.n_train == 1000 and dataset.n_val == 0
    assert dataset.x_train.dtype == np.float32
    # Not standardised, so mapping back is the identity.
    np.testing.assert_array_equal(dataset.original_target(y), y.astype(np.float64))


def test_lesson_validation_split_is_a_seeded_partition_of_the_same_points():
    dataset = load_dataset("lesson", n=100, validation=0.25, seed=3, dtype="float64")
    x, y = lesson_data(100, seed=3, dtype="float64")
    assert dataset.n_train == 75 and dataset.n_val == 25
    assert dataset.x_train.dtype == np.float64
    together = np.concatenate([dataset.x_train, dataset.x_val])
    np.testing.assert_array_equal(np.sort(together, axis=0), x)  # every point exactly once
    pairs = {(float(a), float(b)) for a, b in zip(x[:, 0], y[:, 0], strict=True)}
    for xs, ys in ((dataset.x_train, dataset.y_train), (dataset.x_val, dataset.y_val)):
        assert {(float(a), float(b)) for a, b in zip(xs[:, 0], ys[:, 0], strict=True)} <= pairs
    again = load_dataset("lesson", n=100, validation=0.25, seed=3, dtype="float64")
    np.testing.assert_array_equal(again.x_val, dataset.x_val)
    other = load_dataset("lesson", n=100, validation=0.25, seed=4, dtype="float64")
    assert not np.array_equal(other.x_val, dataset.x_val)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(target="y"), ["lesson", "drop the target"]),
        (dict(n=0), ["whole number", ">= 1"]),
        (dict(n=1, validation=0.5), ["none for training", "validation"]),
        (dict(validation=1.0), ["0 <= F < 1"]),
        (dict(validation=float("nan")), ["0 <= F < 1"]),
        (dict(validation=-0.1), ["0 <= F < 1"]),
    ],
)
def test_lesson_refuses_bad_arguments(kwargs, words):
    with pytest.raises(DataError) as error:
        load_dataset("lesson", **kwargs)
    for word in words:
        assert word in str(error.value)


def test_an_unsupported_dtype_is_refused():
    with pytest.raises(ValueError, match="float32 or float64"):
        load_dataset("lesson", dtype="float16")


# --- CSV files ---------------------------------------------------------------------------------


def test_csv_is_standardised_with_the_training_split_statistics(tmp_path):
    path, table = house_csv(tmp_path, rows=20)
    dataset = load_dataset(path, "price", seed=0, dtype="float64")
    assert dataset.n_train == 16 and dataset.n_val == 4  # default validation 0.2 for real data
    assert dataset.feature_names == ["area", "rooms"] and dataset.target_name == "price"
    assert dataset.n_features == 2 and dataset.y_train.shape == (16, 1)
    # Training columns: mean 0, std 1 exactly up to rounding.
    np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(dataset.x_train.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(dataset.y_train.std(), 1, atol=1e-12)
    # Validation rows use the *training* statistics: mapping back recovers the file's rows.
    x_val = dataset.x_val * dataset.x_std + dataset.x_mean
    y_val = dataset.original_target(dataset.y_val)
    recovered = np.column_stack([x_val, y_val])
    for row in recovered:
        assert np.min(np.abs(table - row).max(axis=1)) < 1e-9
    assert not np.allclose(dataset.x_val.mean(axis=0), 0)  # not re-centred on its own mean
    assert "price" in dataset.description and "16 train / 4 validation" in dataset.description


def test_csv_without_validation_keeps_the_file_order(tmp_path):
    path, table = house_csv(tmp_path, rows=10)
    dataset = load_dataset(path, "price", validation=0, dtype="float64")
    assert dataset.x_val is None and dataset.n_train == 10
    np.testing.assert_allclose(dataset.original_target(dataset.y_train)[:, 0], table[:, 2])
    assert dataset.x_train.dtype == np.float64


@pytest.mark.parametrize(("target", "expected"), [("price", "price"), ("0", "area"),
                                                  (1, "rooms"), ("-1", "price"), (" rooms ", "rooms")])  # fmt: skip
def test_the_target_is_picked_by_name_or_index(tmp_path, target, expected):
    path, _ = house_csv(tmp_path)
    dataset = load_dataset(path, target)
    assert dataset.target_name == expected
    assert expected not in dataset.feature_names and len(dataset.feature_names) == 2


def test_a_header_name_wins_over_an_index(tmp_path):
    path = write_csv(tmp_path, "1x,0,a\n1,2,3\n4,5,7\n")  # a column literally named '0'
    assert load_dataset(path, "0", validation=0).target_name == "0"


def test_a_quoted_cell_a_bom_crlf_and_blank_lines_are_fine(tmp_path):
    text = '\ufeffa,"b"\r\n1,"2"\r\n\r\n3,4\r\n 5 , 7 \r\n'
    dataset = load_dataset(write_csv(tmp_path, text), "b", validation=0, dtype="float64")
    np.testing.assert_allclose(dataset.original_target(dataset.y_train)[:, 0], [2, 4, 7])
    assert dataset.feature_names == ["a"]


def test_a_constant_feature_becomes_zeros_with_one_warning(tmp_path):
    path = write_csv(tmp_path, "a,same,y\n1,5,2\n2,5,3\n4,5,1\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_dataset(path, "y", validation=0)
    assert len(caught) == 1 and issubclass(caught[0].category, DataWarning)
    assert "'same'" in str(caught[0].message) and "constant" in str(caught[0].message)
    assert np.all(np.isfinite(dataset.x_train))
    np.testing.assert_array_equal(dataset.x_train[:, 1], 0)
    assert dataset.x_std[1] == 1 and dataset.x_mean[1] == 5


def test_tiny_and_huge_but_finite_spreads_never_give_nan(tmp_path):
    path = write_csv(tmp_path, "a,b,y\n1e-200,1e150,1\n2e-200,-1e150,2\n0,1e149,0\n")
    dataset = load_dataset(path, "y", validation=0)
    assert np.all(np.isfinite(dataset.x_train))


# One test per bad file: a DataError whose single line names the file, row and column.
BAD_FILES = [
    ("empty", "", "price", ["empty", "header row"]),
    ("only whitespace", "\n  \n", "price", ["empty"]),
    ("header only", "area,price\n", "price", ["row 1", "no data rows"]),
    ("single row", "area,price\n1,2\n", "price", ["only one data row", "row 2", "at least 2"]),
    ("ragged short", "area,price\n1,2\n3\n4,5\n", "price",
     ["row 3", "1 cell", "2 columns", "'price' is missing"]),
    ("ragged long", "area,price\n1,2\n3,4,5\n", "price", ["row 3", "3 cells", "beyond"]),
    ("non-numeric", "area,price\n1,2\n3,cheap\n", "price",
     ["row 3", "'price'", "column 2", "'cheap'", "not a number"]),
    ("empty cell", "area,price\n1,2\n,4\n", "price", ["row 3", "'area'", "empty"]),
    ("nan", "area,price\n1,2\nnan,4\n", "price", ["row 3", "'area'", "not a finite"]),
    ("inf", "area,price\n1,2\n3,-inf\n", "price", ["row 3", "'price'", "not a finite"]),
    ("overflow", "area,price\n1,2\n3,1e400\n", "price", ["row 3", "'price'", "not a finite"]),
    ("missing target", "area,price\n1,2\n3,4\n", "cost", ["'cost'", "row 1", "area, price"]),
    ("target index", "area,price\n1,2\n3,4\n", "7", ["index 7", "out of range", "0 to 1"]),
    ("no header", "1,2\n3,4\n5,6\n", "0", ["row 1", "header", "add a header row"]),
    ("unnamed column", "area,,price\n1,2,3\n4,5,6\n", "price", ["row 1", "column 2", "unnamed"]),
    ("duplicate names", "a,a,price\n1,2,3\n4,5,6\n", "price", ["row 1", "two columns 'a'"]),
    ("one column", "price\n1\n2\n", "price", ["row 1", "only one column"]),
    ("semicolons", "area;price\n1;2\n3;4\n", "price", ["only one column", "commas"]),
    ("bad quotes", 'area,price\n1,2\n3,"4"x\n', "price", ["row 3", "not valid CSV", "quotes"]),
    ("unclosed quote", 'area,price\n1,"2\n3,4\n', "price", ["row 2", "not valid CSV"]),
    ("control char", "area,pri\x00ce\n1,2\n3,4\n", "0", ["row 1", "unprintable"]),
    ("not utf-8", b"area,price\n1,2\n3,\xff\n", "price", ["row 3", "not UTF-8", "0xff"]),
    ("constant target", "area,price\n1,2\n3,2\n4,2\n", "price",
     ["target column 'price'", "same value (2)", "nothing to learn"]),
    ("too spread out", "area,price\n1e300,1\n-1e300,2\n", "price",
     ["row 2", "'area'", "1e+300", "too large"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "text", "target", "words"), BAD_FILES, ids=[c[0] for c in BAD_FILES]
)
def test_every_bad_file_gets_one_line_naming_file_row_and_column(
    tmp_path, case, text, target, words
):
    path = write_csv(tmp_path, text, name="houses.csv")
    with pytest.raises(DataError) as error:
        load_dataset(path, target, validation=0)
    message = str(error.value)
    assert len(message.splitlines()) == 1, message
    assert "houses.csv" in message, message
    for word in words:
        assert word in message, message


def test_a_held_out_value_far_outside_the_training_range_names_its_row(tmp_path):
    held_out = int(np.random.default_rng(0).permutation(10)[0])  # as load_dataset splits
    values = [float(k) for k in range(10)]
    values[held_out] = 1e300  # fine in float64, but (1e300 - mean) / std overflows float32
    text = "a,y\n" + "".join(f"{v!r},{k}\n" for k, v in enumerate(values))
    path = write_csv(tmp_path, text)
    with pytest.raises(DataError) as error:
        load_dataset(path, "y", validation=0.1, seed=0)
    message = str(error.value)
    assert f"row {held_out + 2}, column 'a'" in message and "float32" in message, message
    dataset = load_dataset(path, "y", validation=0.1, seed=0, dtype="float64")
    assert np.all(np.isfinite(dataset.x_val))  # float64 holds it


def test_too_few_rows_for_the_split_says_how_many_and_what_to_change(tmp_path):
    path = write_csv(tmp_path, "a,y\n1,2\n3,4\n5,7\n")
    load_dataset(path, "y", validation=0)  # 3 rows are fine on their own
    with pytest.raises(
        DataError,
        match=r"3 data rows, 2 held out .* leaves 1 .*validation fraction \(--validation\)",
    ):
        load_dataset(path, "y", validation=0.5)


def test_a_csv_needs_a_target(tmp_path):
    path, _ = house_csv(tmp_path)
    with pytest.raises(DataError, match="--target"):
        load_dataset(path)


def test_a_missing_file_suggests_the_built_in_sets(tmp_path):
    with pytest.raises(DataError, match=r"diabets: no such file.*lesson, diabetes"):
        load_dataset("diabets", "y")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        load_dataset(tmp_path, "y")


def test_an_unreadable_file_names_the_reason(tmp_path, monkeypatch):
    # chmod cannot block root, so make the read itself fail the way the OS would.
    path, _ = house_csv(tmp_path)

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(DataError, match=r"data.csv: cannot read the file \(Permission denied\)"):
        load_dataset(path, "price")


# --- scikit-learn's diabetes set -------------------------------------------------------------


def test_diabetes_is_standardised_and_split():
    dataset = load_dataset("diabetes", dtype="float64")
    assert dataset.n_train + dataset.n_val == 442 and dataset.n_val == 89  # ceil(0.2 * 442)
    assert dataset.n_features == 10 and dataset.target_name == "progression"
    assert dataset.feature_names[:3] == ["age", "sex", "bmi"]
    np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(dataset.x_train.std(axis=0), 1, atol=1e-12)
    progression = dataset.original_target(np.concatenate([dataset.y_train, dataset.y_val]))
    assert 25 <= progression.min() and progression.max() <= 346  # the set's documented range


def test_diabetes_without_scikit_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(DataError, match="pip install scikit-learn"):
        load_dataset("diabetes")


# --- From the command line's flags -------------------------------------------------------------


def data_parser() -> CleanParser:
    parser = CleanParser(prog="scratch_gd test")
    add_data_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32")
    return parser


def from_flags(argv: list[str]) -> tuple[Dataset, argparse.Namespace]:
    parser = data_parser()
    args = parser.parse_args(argv)
    return dataset_from_args(args, parser), args


def test_flags_default_to_the_lesson_data():
    dataset, args = from_flags([])
    assert dataset.name == "lesson" and dataset.n_train == 1000 and dataset.x_val is None
    assert args.n == 1000


def test_flags_load_a_csv_and_record_the_training_size(tmp_path):
    path, _ = house_csv(tmp_path, rows=20)
    dataset, args = from_flags(["--data", str(path), "--target", "price", "--validation", "0.5"])
    assert dataset.n_train == 10 and dataset.n_val == 10 and args.n == 10


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--data", "diabetes", "--n", "50"], ["--n", "drop --n"]),
        (["--target", "y"], ["--target", "lesson", "drop --target"]),
        (["--data", "diabetes", "--target", "age"], ["--target", "fixed"]),
        (["--data", "nowhere.csv", "--target", "y"], ["--data", "nowhere.csv", "no such file"]),
        (["--data", "nowhere.csv"], ["--data", "--target"]),
        (["--validation", "1"], ["--validation", "0 <= F < 1"]),
        (["--validation", "x"], ["--validation", "not a number"]),
        (["--n", "0"], ["--n", "at least 1"]),
    ],
)
def test_bad_data_flags_stop_with_one_line_and_exit_code_2(flags, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        from_flags(flags)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err


def test_a_bad_csv_through_the_flags_is_a_usage_error(tmp_path, capsys):
    path = write_csv(tmp_path, "a,y\n1,2\n3,oops\n")
    with pytest.raises(SystemExit) as exit_info:
        from_flags(["--data", str(path), "--target", "y"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "argument --data:" in err and "row 3" in err and "'oops'" in err
