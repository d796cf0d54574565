"""docs/lesson.ipynb runs from top to bottom, and is committed without outputs."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "lesson.ipynb"


def read() -> "nbformat.NotebookNode":
    return nbformat.read(NOTEBOOK, as_version=4)


def test_the_notebook_is_committed_without_outputs():
    notebook = read()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "no code cells"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_the_notebook_covers_the_lesson():
    headings = [
        cell.source.splitlines()[0] for cell in read().cells if cell.cell_type == "markdown"
    ]
    for part in ("The data", "forward and one backward", "gradient check", "three regimes"):
        assert any(part in heading for heading in headings), part
    assert any("Exercise 1" in cell.source for cell in read().cells)
    assert any("Exercise 2" in cell.source for cell in read().cells)


def test_the_notebook_runs_from_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend
    notebook = read()
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # run in an empty folder
    )
    client.execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= 5  # data, three regimes, samples seen, fits, exercise 2
    assert list(tmp_path.iterdir()) == []  # it wrote nothing
    assert read().cells[0].source == notebook.cells[0].source  # the file was left alone
