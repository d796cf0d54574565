"""Importing scratch_gd runs no garbage collection, and leaves the collector as it was."""

import json
import subprocess
import sys

IMPORT = """
import gc, json
def counts():
    return [stats["collections"] for stats in gc.get_stats()]
before = counts()
import scratch_gd
print(json.dumps({"before": before, "after": counts(), "enabled": gc.isenabled()}))
"""


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_importing_the_package_collects_no_garbage_and_turns_collection_back_on():
    seen = json.loads(run(IMPORT))
    before, after = seen["before"], seen["after"]
    assert seen["enabled"]
    # Collections per generation (young, middle, old): without the pause the import runs
    # a hundred or more. (Compiling __init__.py, when it has no .pyc yet, may run one.)
    assert after[1:] == before[1:], seen
    assert after[0] - before[0] <= 1, seen


def test_objects_frozen_before_the_import_stay_frozen():
    code = "import gc; gc.freeze(); n = gc.get_freeze_count(); import scratch_gd; "
    # (A few frozen objects are freed as the import runs: the count drops a little, not to 0.)
    assert run(code + "print(gc.get_freeze_count() > n // 2 > 0)") == "True"


def test_collection_that_was_off_stays_off():
    assert run("import gc; gc.disable(); import scratch_gd; print(gc.isenabled())") == "False"
