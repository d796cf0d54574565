"""store/files.py: atomic writes that fail cleanly, stale temporaries removed, bounded reads."""

import errno
import os
from pathlib import Path

import pytest

from scratch_gd.store import files
from scratch_gd.store.files import OutputError, atomic_write_text, remove_stale_temporaries


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("code", "words"), [(errno.ENOSPC, "No space left"), (errno.EROFS, "Read-only")]
)
def test_a_full_or_read_only_disk_names_the_file_and_keeps_the_old_one(
    tmp_path, monkeypatch, code, words
):
    path = tmp_path / "compare.json"
    path.write_text("old")

    def fail(descriptor):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files.os, "fsync", fail)
    with pytest.raises(OutputError) as error:
        atomic_write_text(path, "new")
    assert error.value.filename == str(path) and words in error.value.strerror
    assert path.read_text() == "old" and no_temporaries(tmp_path)


def test_a_deleted_folder_is_an_output_error_naming_the_file(tmp_path):
    path = tmp_path / "gone" / "compare.json"
    with pytest.raises(OutputError) as error:
        atomic_write_text(path, "new")
    assert error.value.filename == str(path) and error.value.errno == errno.ENOENT


def test_interrupted_writes_leave_no_temporary_file(tmp_path):
    def interrupted(file):
        file.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(tmp_path / "figure.png", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_the_folder_is_synced_after_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(descriptor):
        synced.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    monkeypatch.setattr(files.os, "fsync", fsync)
    atomic_write_text(tmp_path / "a.csv", "x\n")
    assert synced[-1] == tmp_path  # the file first, then the folder that names it


def test_stale_temporaries_of_our_naming_are_removed_and_nothing_else(tmp_path):
    stale = [tmp_path / ".compare.png.k2j4_x9a.tmp", tmp_path / ".compare.json.abcdefgh.tmp"]
    keep = [tmp_path / "notes.tmp", tmp_path / ".vimrc", tmp_path / "compare.png"]
    for path in stale + keep:
        path.write_text("x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(keep)


def test_a_temporary_another_run_is_still_writing_is_kept(tmp_path):
    live = tmp_path / ".compare.png.abcdefgh.tmp"
    with live.open("wb") as file:
        files.fcntl.flock(file.fileno(), files.fcntl.LOCK_EX)
        assert remove_stale_temporaries(tmp_path) == []
    assert live.exists()
    assert remove_stale_temporaries(tmp_path) == [live]
