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
    # Collections per generation (young, middle, old). Without the pause the import runs
    # a dozen or more of the older two; with it, only the young one runs as it resumes.
    assert after[1:] == before[1:], seen
    assert after[0] - before[0] <= 2, seen


def test_collection_that_was_off_stays_off():
    assert run("import gc; gc.disable(); import scratch_gd; print(gc.isenabled())") == "False"
