"""MLP.save / MLP.load: bit-identical round trips, atomic writes, and a clear
CheckpointError for every kind of file that must not be loaded."""

from pathlib import Path

import numpy as np
import pytest

from scratch_gd.reference.mlp import MLP
from scratch_gd.store import checkpoint
from scratch_gd.store.checkpoint import CheckpointError


def trained_looking_model(sizes, dtype, backend="numba", seed=5) -> MLP:
    """A model whose parameters are not the seed-0 initialisation, so a load that silently
    re-initialised would be caught."""
    model = MLP(sizes, dtype=dtype, seed=seed, backend=backend)
    rng = np.random.default_rng(99)
    for parameter in model.parameters():
        parameter.data += rng.normal(0, 0.1, parameter.shape).astype(dtype)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", [[1, 32, 32, 1], [10, 7, 1], [3, 2]])
def test_round_trip_gives_bit_identical_outputs(tmp_path, backend, dtype, sizes):
    model = trained_looking_model(sizes, dtype, backend)
    path = model.save(tmp_path / "model.npz")
    loaded = MLP.load(path, backend=backend)
    assert loaded.sizes == sizes and loaded.dtype == np.dtype(dtype)
    assert loaded.backend == backend
    for saved, restored in zip(model.parameters(), loaded.parameters(), strict=True):
        assert restored.data.dtype == saved.data.dtype
        np.testing.assert_array_equal(restored.data, saved.data)
        assert not np.any(restored.grad)
    x = np.random.default_rng(0).normal(size=(64, sizes[0])).astype(dtype)
    np.testing.assert_array_equal(loaded(x), model(x))


def test_loading_with_the_right_sizes_works_and_other_sizes_are_refused(tmp_path):
    path = trained_looking_model([1, 16, 1], "float32").save(tmp_path / "small.npz")
    assert MLP.load(path, sizes=[1, 16, 1]).sizes == [1, 16, 1]
    with pytest.raises(CheckpointError, match=r"sizes \[1, 16, 1\], not the \[1, 32, 32, 1\]"):
        MLP.load(path, sizes=[1, 32, 32, 1])


def test_saving_replaces_an_old_checkpoint_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "model.npz"
    trained_looking_model([1, 4, 1], "float32", seed=1).save(path)
    newer = trained_looking_model([1, 4, 1], "float32", seed=2)
    newer.save(path)
    np.testing.assert_array_equal(
        MLP.load(path).linears[0].weight.data, newer.linears[0].weight.data
    )
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_a_failed_save_keeps_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = trained_looking_model([1, 4, 1], "float32", seed=1)
    old.save(path)
    before = path.read_bytes()

    def write_half_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of writing

    monkeypatch.setattr(np, "savez", write_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        trained_looking_model([1, 4, 1], "float32", seed=2).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


# --- Files that must be refused, each with one line naming the file and the problem -----------


@pytest.fixture
def good(tmp_path) -> dict[str, np.ndarray]:
    """The entries of a valid checkpoint, to damage one at a time."""
    path = trained_looking_model([1, 8, 8, 1], "float32").save(tmp_path / "good.npz")
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


def write_npz(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path = tmp_path / "bad.npz"
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(CheckpointError) as error:
        MLP.load(path)
    message = str(error.value)
    assert str(path) in message and len(message.splitlines()) == 1, message
    return message


def test_a_missing_file(tmp_path):
    assert "no such file" in refusal(tmp_path / "nothing.npz")


def test_a_folder(tmp_path):
    assert "is a folder" in refusal(tmp_path)


def test_a_text_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("weights: 1, 2, 3\n")
    assert "not an .npz checkpoint" in refusal(path)


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    assert "not an .npz checkpoint" in refusal(path)


def test_a_single_npy_array(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as file:
        np.save(file, np.ones(3))
    assert "single .npy array" in refusal(path)


def test_a_pickle_is_never_unpickled(tmp_path):
    path = tmp_path / "object.npz"
    with open(path, "wb") as file:
        np.save(file, np.array([{"weights": 1}], dtype=object), allow_pickle=True)
    assert "not an .npz checkpoint" in refusal(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_file(tmp_path, keep):
    source = trained_looking_model([1, 8, 8, 1], "float32").save(tmp_path / "good.npz")
    data = source.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: int(len(data) * keep)])
    assert "not an .npz" in (message := refusal(path)) or "damaged or truncated" in message


def test_corrupted_bytes_inside_an_array(tmp_path):
    source = trained_looking_model([1, 8, 8, 1], "float32").save(tmp_path / "good.npz")
    data = bytearray(source.read_bytes())
    start = data.index(b"linear1.weight.npy") + 200  # inside that member's data
    data[start : start + 16] = bytes(16)
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    assert "damaged or truncated" in refusal(path)


def test_another_programs_npz(tmp_path):
    path = write_npz(tmp_path, {"w": np.ones((2, 2))})
    assert "not a scratch_gd checkpoint" in refusal(path)


def test_another_format(tmp_path, good):
    path = write_npz(tmp_path, {**good, "format": np.array("someone.else")})
    assert "'someone.else'" in refusal(path)


@pytest.mark.parametrize("version", [np.array(2), np.array(0), np.array("1"), np.array([1, 1])])
def test_a_format_version_this_reader_does_not_know(tmp_path, good, version):
    path = write_npz(tmp_path, {**good, "format_version": version})
    message = refusal(path)
    assert "format version" in message and "reads version 1" in message


def test_a_missing_parameter(tmp_path, good):
    del good["linear1.bias"]
    assert "linear1.bias missing" in refusal(write_npz(tmp_path, good))


def test_an_extra_entry(tmp_path, good):
    path = write_npz(tmp_path, {**good, "linear9.weight": np.ones((2, 2), np.float32)})
    assert "unexpected entries linear9.weight" in refusal(path)


def test_sizes_that_disagree_with_the_arrays(tmp_path, good):
    path = write_npz(tmp_path, {**good, "sizes": np.array([1, 8, 16, 1])})
    message = refusal(path)
    assert "linear1.weight has shape (8, 8)" in message and "(16, 8)" in message


@pytest.mark.parametrize("sizes", [np.array([5]), np.array([1, 0, 1]), np.array([1.0, 8.0])])
def test_nonsense_sizes(tmp_path, good, sizes):
    assert "at least two widths >= 1" in refusal(write_npz(tmp_path, {**good, "sizes": sizes}))


def test_a_dtype_that_disagrees_with_the_arrays(tmp_path, good):
    path = write_npz(tmp_path, {**good, "dtype": np.array("float64")})
    assert "linear0.weight is float32, but the file says float64" in refusal(path)


def test_an_unsupported_dtype(tmp_path, good):
    path = write_npz(tmp_path, {**good, "dtype": np.array("float16")})
    assert "'float16', expected float32 or float64" in refusal(path)


def test_non_finite_parameters(tmp_path, good):
    good["linear2.bias"] = np.array([np.nan], dtype=np.float32)
    assert "linear2.bias holds NaN" in refusal(write_npz(tmp_path, good))


def test_the_checkpoint_helpers_agree_with_the_model():
    model = MLP([2, 5, 3, 1])
    shapes = [parameter.shape for parameter in model.parameters()]
    assert checkpoint.expected_shapes(model.sizes) == shapes
    assert checkpoint.parameter_names(model.sizes)[:2] == ["linear0.weight", "linear0.bias"]


# --- Hostile files and missing folders (issue 11) ---------------------------------------------


def test_a_pipe_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    # A pipe (like /dev/zero) says its size is 0; the reader must count what it reads.
    import os
    import subprocess
    import sys

    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    monkeypatch.setattr(checkpoint, "MAX_BYTES", 4096)
    writer = subprocess.Popen(
        [sys.executable, "-c", f"open({str(fifo)!r}, 'wb').write(bytes(8192))"],
        stderr=subprocess.DEVNULL,
    )
    try:
        with pytest.raises(CheckpointError, match="larger than"):
            MLP.load(fifo)
    finally:
        writer.kill()
        writer.wait()


def test_an_archive_that_claims_to_unpack_to_gigabytes_is_refused(tmp_path, monkeypatch):
    # 8 MB of zeros compress to a few KB: a small file that would unpack to far more.
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, weights=np.zeros(2**20))
    monkeypatch.setattr(checkpoint, "MAX_BYTES", 2**20)
    assert path.stat().st_size < 2**20
    with pytest.raises(CheckpointError, match="unpacks to"):
        MLP.load(path)


def test_saving_into_a_missing_folder_names_the_path_given(tmp_path):
    target = tmp_path / "no such folder" / "model.npz"
    with pytest.raises(OSError) as error:
        MLP([1, 4, 1]).save(target)
    assert error.value.filename == str(target)
    assert str(target) in str(error.value) and ".tmp" not in str(error.value)
