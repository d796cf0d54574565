"""The learner's house keeps its rules: read by parsing every import in the package.

1. ``scratch_gd/reference/`` imports only the standard library, NumPy, its own modules and
   the matmul kernels of ``scratch_gd/kernels``; no module of it is over 250 lines.
2. The rooms import each other in one direction only (no import circles), and nothing
   below the CLI imports the CLI.
3. The reading order in ``reference/__init__.py`` names every module of the path, and the
   README's "Read the code" table lists them in that same order.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scratch_gd"
REFERENCE = PACKAGE / "reference"
READING_ORDER = [
    "data", "parameter", "module", "backend", "linear", "relu", "mlp", "loss", "sgd",
    "sampling", "loop", "gradcheck",
]  # fmt: skip


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[str]:
    """Every module ``path`` imports, anywhere in the file, as an absolute dotted name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            # ``from . import checks`` imports a module, not a name
            found += [f"{target}.{alias.name}" for alias in node.names]
    return found


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_reference_path_imports_only_stdlib_numpy_itself_and_the_kernels():
    allowed_roots = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    problems = []
    for path in sorted(REFERENCE.glob("*.py")):
        for name in imports_of(path):
            root = name.split(".")[0]
            inside = name.startswith("scratch_gd.")
            if inside and not name.startswith(("scratch_gd.reference", "scratch_gd.kernels")):
                # ``from .. import kernels`` is fine; anything else of the package is not
                if name != "scratch_gd" and not name.startswith("scratch_gd.kernels"):
                    problems.append(f"{path.name} imports {name}")
            elif not inside and root != "scratch_gd" and root not in allowed_roots:
                problems.append(f"{path.name} imports {name}")
    assert not problems, problems


def test_reference_modules_are_short_and_the_path_stays_small():
    lengths = {path.name: len(path.read_text().splitlines()) for path in REFERENCE.glob("*.py")}
    assert max(lengths.values()) <= 250, lengths
    assert sum(lengths.values()) <= 1200, lengths


def room_graph() -> dict[str, set[str]]:
    """Which room (top-level subpackage) imports which, at module level or inside functions."""
    graph: dict[str, set[str]] = {}
    for path in package_files():
        parts = module_name(path).split(".")
        room = parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "(package)"
        for name in imports_of(path):
            if name.startswith("scratch_gd."):
                other = name.split(".")[1]
                if other != room and (PACKAGE / other).is_dir():
                    graph.setdefault(room, set()).add(other)
    return graph


def test_rooms_import_each_other_in_one_direction_only():
    graph = room_graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(room for room in graph if reaches(room, room, {room}))
    assert not circles, f"import circles through {circles}: {graph}"


def test_nothing_below_the_cli_imports_the_cli():
    importers = {room for room, targets in room_graph().items() if "cli" in targets}
    assert importers <= {"(package)"}, importers  # only __main__ starts the CLI


@pytest.mark.parametrize("name", READING_ORDER)
def test_the_reading_order_names_every_module_of_the_path(name):
    text = (REFERENCE / "__init__.py").read_text()
    assert (REFERENCE / f"{name}.py").exists()
    assert f"``{name}``" in text


def test_the_readme_lists_the_reference_path_in_reading_order_right_after_two_commands():
    readme = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", readme, flags=re.MULTILINE)
    assert headings[headings.index("Two commands") + 1] == "Read the code"
    section = readme.split("## Read the code", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\[`(\w+)\.py`\]\(scratch_gd/reference/", section)
    assert [name for name in listed if name != "checks"] == READING_ORDER
    init = (REFERENCE / "__init__.py").read_text()
    positions = [init.index(f"``{name}``") for name in READING_ORDER]
    assert positions == sorted(positions)
