"""The docs cannot silently rot.

* Every relative link in docs/ and README.md resolves: the file exists, a ``#L12`` line
  exists, a ``#some-heading`` names a heading of the page it points to.
* A link whose text is code and whose target is a line, like
  [`grad_weight = grad_out.T @ x`](../scratch_gd/linear.py#L41), points at a line that
  contains that code: move the code and this test names the link to update.
* The ``>>>`` examples in docs/*.md run, and print what the page says they print.
* The ``$ python -m scratch_gd gradcheck`` runs quoted in docs/debugging.md still print
  those lines (rounding-error figures to within a factor of 10, everything else exactly).
"""

from __future__ import annotations

import doctest
import math
import re
import shlex
from pathlib import Path

import pytest

from scratch_gd.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [*DOCS, ROOT / "README.md"]
LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]+)\)")
LINE_FRAGMENT = re.compile(r"^L(\d+)(?:-L(\d+))?$")
CODE_TEXT = re.compile(r"^`([^`]+)`$")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, where links and headings live."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found = set()
    for _, line in prose_lines(page.read_text(encoding="utf-8")):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)
        if match:
            found.add(slug(match.group(1)))
    return found


def links(page: Path) -> list[tuple[int, str, str]]:
    """(line number, link text, target) of every relative link on the page."""
    found = []
    for number, line in prose_lines(page.read_text(encoding="utf-8")):
        for match in LINK.finditer(line):
            text, target = match.groups()
            if not re.match(r"^[a-z]+:", target):  # http:, https:, mailto: are not checked
                found.append((number, text, target))
    return found


def link_problem(page: Path, text: str, target: str) -> str | None:
    """What is wrong with one link, or None when it resolves (and its code is there)."""
    path_part, _, fragment = target.partition("#")
    destination = (page.parent / path_part).resolve() if path_part else page
    if not destination.exists():
        return f"{target}: no such file"
    if not fragment:
        return None
    line_match = LINE_FRAGMENT.match(fragment)
    if line_match:
        if not destination.is_file():
            return f"{target}: a line of a folder"
        lines = destination.read_text(encoding="utf-8").splitlines()
        first = int(line_match.group(1))
        last = int(line_match.group(2) or first)
        if not 1 <= first <= last <= len(lines):
            return f"{target}: {destination.name} has only {len(lines)} lines"
        code = CODE_TEXT.match(text)
        quoted = "\n".join(lines[first - 1 : last])
        if code and code.group(1) not in quoted:
            return (
                f"{target}: expected `{code.group(1)}` there, found {quoted.strip()!r}; "
                "update the line number (or the link text)"
            )
        return None
    if destination.suffix == ".md" and fragment not in anchors(destination):
        return f"{target}: {destination.name} has no heading with anchor #{fragment}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    problems = [
        f"{page.name}:{number}: {problem}"
        for number, text, target in links(page)
        if (problem := link_problem(page, text, target))
    ]
    assert not problems, "\n".join(problems)


def code_links(page: Path) -> list[tuple[str, str]]:
    return [
        (text, target)
        for _, text, target in links(page)
        if CODE_TEXT.match(text) and LINE_FRAGMENT.match(target.partition("#")[2])
    ]


def test_the_backprop_walkthrough_points_at_the_code_of_every_step():
    targets = {target.partition("#")[0] for _, target in code_links(ROOT / "docs/backprop.md")}
    for module in ("linear.py", "relu.py", "loss.py", "mlp.py", "sgd.py"):
        assert f"../scratch_gd/reference/{module}" in targets, f"backprop.md never links {module}"
    assert len(code_links(ROOT / "docs/backprop.md")) >= 15


def test_the_link_checker_catches_moved_code_missing_files_and_bad_anchors(tmp_path):
    (tmp_path / "code.py").write_text("a = 1\ngrad = out.T @ x\n")
    page = tmp_path / "page.md"
    page.write_text("# Title\n")
    assert link_problem(page, "`grad = out.T @ x`", "code.py#L2") is None
    assert "expected `grad = out.T @ x`" in link_problem(page, "`grad = out.T @ x`", "code.py#L1")
    assert "only 2 lines" in link_problem(page, "`a`", "code.py#L9")
    assert "no such file" in link_problem(page, "here", "missing.py")
    assert link_problem(page, "top", "#title") is None
    assert "no heading" in link_problem(page, "top", "#nowhere")


def test_links_and_headings_inside_code_blocks_are_not_counted(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Real\n```sh\n# not a heading\n[x](nowhere.md)\n```\n[y](#real)\n")
    assert anchors(page) == {"real"}
    assert [target for _, _, target in links(page)] == ["#real"]


@pytest.mark.filterwarnings("ignore:Using a target size")  # debugging.md shows torch's warning
@pytest.mark.parametrize("page", DOCS, ids=lambda page: page.name)
def test_the_examples_on_the_page_print_what_it_says(page):
    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.failed == 0, f"{result.failed} example(s) in {page.name} print otherwise"


def quoted_runs(page: Path) -> list[tuple[list[str], list[str]]]:
    """Each ``$ python -m scratch_gd ...`` in a code block, with the output lines quoted."""
    runs: list[tuple[list[str], list[str]]] = []
    fenced, current = False, None
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced, current = not fenced, None
        elif fenced and line.startswith("$ python -m scratch_gd "):
            command = line[len("$ python -m scratch_gd ") :].split("#")[0]
            current = []
            runs.append((shlex.split(command), current))
        elif current is not None and line.strip():
            current.append(line)
    return runs


def same_order(quoted: str, printed: str) -> bool:
    """Rounding errors shift with the CPU and BLAS; their order of magnitude must not."""
    return abs(math.log10(float(quoted)) - math.log10(float(printed))) < 1


NUMBER = re.compile(r"\d\.\d+e[-+]\d+")
# Where the worst error sits (the last column of a row) is decided by rounding too.
WORST_AT = re.compile(r"\s+\(\d+(?:, \d+)*,?\)$")


def key_of(line: str) -> str:
    """What identifies a quoted line whatever the rounding: its words without numbers."""
    if line.startswith(("PASS", "FAIL")):
        return "verdict"
    return NUMBER.sub("#", line).split("  ")[0]


def quoted_line_problems(quoted: list[str], printed: str) -> list[str]:
    """How the quoted output lines differ from what the command printed now.

    Words, shapes and counts must match exactly; rounding-error figures only to within a
    factor of 10 (an order of magnitude); where the worst error sits not at all.
    """
    now_by_key = {key_of(line): line for line in printed.splitlines()}
    problems = []
    for line in quoted:
        now = now_by_key.get(key_of(line))
        if now is None:
            problems.append(f"no line like {line!r}")
        elif line.startswith(("PASS", "FAIL")):
            if now[:4] != line[:4]:
                problems.append(f"{line!r} is now {now!r}")
        elif WORST_AT.sub("", NUMBER.sub("#", line)).split() != WORST_AT.sub(
            "", NUMBER.sub("#", now)
        ).split() or not all(map(same_order, NUMBER.findall(line), NUMBER.findall(now))):
            problems.append(f"{line!r} is now {now!r}")
    return problems


def test_the_gradcheck_runs_quoted_in_debugging_md_still_say_that(capsys):
    runs = quoted_runs(ROOT / "docs/debugging.md")
    assert len(runs) >= 3
    for argv, quoted in runs:
        main(argv)
        problems = quoted_line_problems(quoted, capsys.readouterr().out)
        assert not problems, f"python -m scratch_gd {' '.join(argv)}: " + "; ".join(problems)


def test_the_quoted_output_check_catches_changed_numbers_and_counts():
    printed = "bias2      (32,)       2.30e-01    3.90e-03\nworst 3.90e-03; 16 samples used"
    assert quoted_line_problems(["bias2      (32,)       2.30e-01    1.00e-02"], printed) == []
    assert quoted_line_problems(["bias2      (32,)       2.30e-01    3.90e-05"], printed)
    assert quoted_line_problems(["bias2      (16,)       2.30e-01    3.90e-03"], printed)
    assert quoted_line_problems(["worst 3.90e-03; 15 samples used"], printed)
    assert quoted_line_problems(["weight9    (1,)"], printed)
    # Where the worst error sits, and the worst tensor's name, are rounding's choice.
    moved = "input x    (16, 1)     4.09e-02    2.25e-09     9.65e-11  (15, 0)"
    assert (
        quoted_line_problems(
            ["input x    (16, 1)     4.09e-02    2.29e-09  1.02e-10  (5, 0)"], moved
        )
        == []
    )
    assert quoted_line_problems(
        ["input x    (16, 2)     4.09e-02    2.29e-09  1.02e-10  (5, 0)"], moved
    )
    verdict = "PASS: worst relative error 3.12e-09 (weight1) < tolerance 1e-06"
    assert (
        quoted_line_problems(
            ["PASS: worst relative error 3.26e-09 (bias1) < tolerance 1e-06"], verdict
        )
        == []
    )
    assert quoted_line_problems(
        ["FAIL: worst relative error 3.26e-09 (bias1) > tolerance"], verdict
    )


def test_there_are_docs_to_check():
    names = {page.name for page in DOCS}
    assert {"backprop.md", "debugging.md", "confusions.md"} <= names
