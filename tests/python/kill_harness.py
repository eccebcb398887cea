"""The kill harness of issue 17: a pipeline in a subprocess over bounded input files (a
tumbling window, a running aggregation and an interval join, each into a file sink), with
checkpoints every ~100 ms, SIGKILLed at seeded random moments and started again (the same
script, the same checkpoint_dir) until it completes; its output files must then hold exactly
the rows of a clean run (the same multiset: nothing lost, nothing twice). Used by
tests/python/test_checkpoint_kill.py (a few kills) and benchmarks/checkpoints.py (100 seeds)."""
from __future__ import annotations

import collections
import csv
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_DIR = os.environ.get("MILLSTREAM_PYTHON_DIR") or os.path.join(ROOT, "python")

SCRIPT = """
import sys
sys.path.insert(0, {package_dir!r})
import millstream as ms
from millstream import col

checkpoint_dir = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
p = ms.Pipeline(parallelism={parallelism}, batch_size=500, state={state!r},
                checkpoint_dir=checkpoint_dir,
                checkpoint_interval="{interval_ms}ms" if checkpoint_dir else None)
schema = {{"k": ms.int64, "v": ms.int64, "ts": ms.int64}}
bids = p.read_csv("bids.csv", schema=schema).with_watermark("ts", max_delay="2s")
asks = p.read_csv("asks.csv", schema=schema).with_watermark("ts", max_delay="2s")
(bids.key_by("k").window(ms.tumbling("10s")).agg(n=ms.count(), total=ms.sum("v"))
     .write_csv("out/windows.csv"))
bids.key_by("k").agg(n=ms.count(), hi=ms.max("v")).write_csv("out/running.csv")
(bids.join(asks.rename({{"v": "ask", "ts": "ask_ts"}}).with_watermark("ask_ts", max_delay="2s"),
           on="k", within="3s")
     .select("k", "v", "ask", "ts", "ask_ts").write_csv("out/joined.csv"))
p.run(progress=False)
print("completed")
"""

OUTPUTS = ("windows.csv", "running.csv", "joined.csv")


def write_inputs(directory, rows: int = 120_000, seed: int = 17) -> None:
    """Two CSV inputs of `rows` rows, event times out of order by up to 1 s: less than the
    watermarks' max_delay, so that no row is late and no join match is missed whatever the
    order the two inputs interleave in (which rows are late would otherwise depend on it, and
    two clean runs would differ)."""
    rng = random.Random(seed)
    for name in ("bids.csv", "asks.csv"):
        with open(os.path.join(directory, name), "w", newline="") as file:
            out = csv.writer(file)
            out.writerow(["k", "v", "ts"])
            for row in range(rows):
                out.writerow([rng.randrange(40), rng.randrange(1000), row * 10 + rng.randrange(-500, 500)])


def prepare(directory, parallelism: int = 1, state: str = "rocksdb", interval_ms: int = 100) -> str:
    """Writes the inputs and the script into `directory`; returns the script's path. At
    parallelism 1 the running aggregation's changelog (an update per key per input batch) is
    the same from run to run; at 2 its updates depend on how the splits' batches interleave,
    so only its last row per key would compare."""
    os.makedirs(os.path.join(directory, "out"), exist_ok=True)
    write_inputs(directory)
    script = os.path.join(directory, "pipeline.py")
    with open(script, "w") as file:
        file.write(SCRIPT.format(package_dir=PACKAGE_DIR, parallelism=parallelism, state=state,
                                 interval_ms=interval_ms))
    return script


def outputs(directory) -> dict:
    """Each output file's rows as a multiset (Counter of row tuples)."""
    result = {}
    for name in OUTPUTS:
        with open(os.path.join(directory, "out", name), newline="") as file:
            result[name] = collections.Counter(tuple(row) for row in csv.reader(file))
    return result


def clean_run(directory, timeout_s: float = 60.0) -> dict:
    """The outputs of a run without checkpoints; its wall time in seconds (import included) is
    left in clean_run.seconds, to aim the kills of killed_runs inside a run."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "pipeline.py", ""], cwd=directory, capture_output=True,
                          text=True, timeout=timeout_s)
    if done.returncode != 0 or "completed" not in done.stdout:
        raise AssertionError(f"the clean run failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    clean_run.seconds = time.monotonic() - started
    return outputs(directory)


def kill_window(clean_seconds: float) -> tuple[float, float]:
    """Moments to kill a run at: from a third of a clean run's wall time (past the import and
    the first checkpoints) to just before its end (a run with checkpoints is no faster)."""
    return (clean_seconds / 3, clean_seconds * 0.9)


def killed_runs(directory, seed: int, kills: int, deadline_s: float,
                kill_window_s: tuple[float, float] = (0.2, 1.5)) -> tuple[dict, int]:
    """Runs the script with checkpoints, SIGKILLing it `kills` times at seeded moments (each
    within kill_window_s of its start), then lets it complete. Returns its outputs and the
    number of kills that hit a running process. Every wait is bounded by `deadline_s`."""
    rng = random.Random(seed)
    deadline = time.monotonic() + deadline_s
    landed = 0
    checkpoint_dir = os.path.join(directory, "ckpt")
    for attempt in range(kills + 1):
        process = subprocess.Popen([sys.executable, "pipeline.py", checkpoint_dir], cwd=directory,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            if attempt < kills:
                try:
                    process.wait(timeout=rng.uniform(*kill_window_s))
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    landed += 1
            remaining = deadline - time.monotonic()
            out, err = process.communicate(timeout=max(1.0, remaining))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        if process.returncode == 0:
            if "completed" not in out:
                raise AssertionError(f"exit 0 without completing:\n{out}\n{err}")
            return outputs(directory), landed
        if process.returncode != -signal.SIGKILL:
            raise AssertionError(f"run {attempt} failed (exit {process.returncode}):\n{out}\n{err}")
    raise AssertionError("the run did not complete")


def compare(clean: dict, restored: dict) -> list[str]:
    """What differs between two outputs: per file, rows lost and rows extra (counts)."""
    problems = []
    for name in OUTPUTS:
        lost = clean[name] - restored[name]
        extra = restored[name] - clean[name]
        if lost or extra:
            problems.append(f"{name}: {sum(lost.values())} rows lost, {sum(extra.values())} extra")
    return problems
