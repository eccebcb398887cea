"""The kill harness (tests/python/kill_harness.py) with a few seeded SIGKILLs: windows, a running
aggregation and an interval join from CSV files into CSV files, killed and restarted until
complete, give exactly the clean run's rows."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kill_harness  # noqa: E402


@pytest.mark.parametrize("seed", [11, 12])
def test_killed_and_restarted_runs_give_the_clean_runs_rows(tmp_path, seed):
    clean_dir, killed_dir = tmp_path / "clean", tmp_path / "killed"
    for directory in (clean_dir, killed_dir):
        directory.mkdir()
        kill_harness.prepare(str(directory))
    clean = kill_harness.clean_run(str(clean_dir), timeout_s=40)
    restored, landed = kill_harness.killed_runs(
        str(killed_dir), seed=seed, kills=2, deadline_s=40,
        kill_window_s=kill_harness.kill_window(kill_harness.clean_run.seconds))
    assert landed >= 1
    assert kill_harness.compare(clean, restored) == []
