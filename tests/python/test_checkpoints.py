"""Checkpoints and restore (issue 17) of stateless pipelines from tables into collect(): a run
killed (SIGKILL, in a subprocess) after some checkpoints and run again with the same
checkpoint_dir returns exactly the rows of a clean run, in order, also at another parallelism;
a changed plan is refused naming the operator; damaged checkpoints are skipped with a warning;
job.checkpoint(), job.savepoint() and restore_from (keyed state too); the checkpoint metrics."""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import millstream as ms
from millstream import _plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_DIR = os.environ.get("MILLSTREAM_PYTHON_DIR") or os.path.join(ROOT, "python")

# The pipeline, as text: the killed subprocess and the test build the same one.
PIPELINE = """
import time
import numpy as np
import pyarrow as pa
import millstream as ms
from millstream import col

ROWS = 40_000
rng = np.random.default_rng(17)
DATA = pa.table({"x": rng.permutation(ROWS).astype("int64"),   # out of order
                 "y": rng.integers(0, 10, ROWS).astype("int64")})
SEEN = []  # rows each map_batches call saw in this process

def slow(batch):
    SEEN.append(batch.num_rows)
    time.sleep(0.001)
    return batch

def build(p, threshold=3):
    return (p.from_arrow(DATA).map_batches(slow)
            .filter(col("y") > threshold).with_columns(z=col("x") * 2))
"""


def pipeline_module() -> dict:
    names: dict = {}
    exec(PIPELINE, names)
    return names


def reference(data: pa.Table, threshold: int = 3) -> pa.Table:
    kept = data.filter(pc.greater(data["y"], threshold))
    return kept.append_column("z", pc.multiply(kept["x"], 2))


def kill_after_checkpoints(tmp_path, checkpoint_dir, parallelism: int, seed: int,
                           timeout_s: float = 30.0) -> None:
    """Runs the pipeline in a subprocess with checkpoints every 20 ms and SIGKILLs it at a
    seeded moment after its first complete checkpoint (bounded waits)."""
    script = tmp_path / "killed.py"
    script.write_text(f"import sys\nsys.path.insert(0, {PACKAGE_DIR!r})\n" + PIPELINE + textwrap.dedent(f"""
        p = ms.Pipeline(parallelism={parallelism}, batch_size=40,
                        checkpoint_dir={str(checkpoint_dir)!r}, checkpoint_interval="20ms")
        build(p).collect()
        print("finished")
    """))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            if any((checkpoint_dir / name / "MANIFEST").exists()
                   for name in (os.listdir(checkpoint_dir) if checkpoint_dir.exists() else [])):
                break
            time.sleep(0.005)
        time.sleep(random.Random(seed).uniform(0.0, 0.15))
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the run ended before it was killed (exit {process.returncode}):\n{out}\n{err}")
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert any((checkpoint_dir / name / "MANIFEST").exists() for name in os.listdir(checkpoint_dir))


def restored_collect(checkpoint_dir, parallelism: int, **options):
    names = pipeline_module()
    p = ms.Pipeline(parallelism=parallelism, batch_size=40, checkpoint_dir=str(checkpoint_dir),
                    checkpoint_interval="20ms", **options)
    table = names["build"](p).collect()
    return table, names


@pytest.mark.parametrize("seed", [1, 2])
def test_a_killed_run_restored_returns_the_clean_runs_rows_in_order(tmp_path, parallelism, seed):
    checkpoint_dir = tmp_path / "ckpt"
    kill_after_checkpoints(tmp_path, checkpoint_dir, parallelism, seed)
    table, names = restored_collect(checkpoint_dir, parallelism)
    assert table.equals(reference(names["DATA"]))
    # It went on from the checkpoint: fewer rows read than the input holds.
    assert 0 <= sum(names["SEEN"]) < names["DATA"].num_rows
    # A bounded run that reached its end removed its checkpoints: a next run starts afresh.
    assert not [name for name in os.listdir(checkpoint_dir) if name.startswith("chk-")]


@pytest.mark.parametrize("restore_parallelism", [1, 4])
def test_a_checkpoint_taken_at_parallelism_2_restores_at_another(tmp_path, restore_parallelism):
    checkpoint_dir = tmp_path / "ckpt"
    kill_after_checkpoints(tmp_path, checkpoint_dir, 2, seed=3)
    table, names = restored_collect(checkpoint_dir, restore_parallelism)
    assert table.equals(reference(names["DATA"]))
    assert sum(names["SEEN"]) < names["DATA"].num_rows


def test_a_changed_plan_is_refused_naming_the_operator(tmp_path):
    checkpoint_dir = tmp_path / "ckpt"
    kill_after_checkpoints(tmp_path, checkpoint_dir, 1, seed=4)
    names = pipeline_module()
    p = ms.Pipeline(parallelism=1, batch_size=40, checkpoint_dir=str(checkpoint_dir))
    with pytest.raises(ValueError, match=r"operator 'filter\(\(col\(\"y\"\) > lit\(5\)\)\)' \(op 'filter'"):
        names["build"](p, threshold=5).collect()
    # The checkpoints are left as they were: the right plan still restores from them.
    table, names = restored_collect(checkpoint_dir, 1)
    assert table.equals(reference(names["DATA"]))


def test_damaged_checkpoints_are_skipped_with_a_warning(tmp_path):
    checkpoint_dir = tmp_path / "ckpt"
    kill_after_checkpoints(tmp_path, checkpoint_dir, 2, seed=5)
    complete = sorted((int(name[4:]) for name in os.listdir(checkpoint_dir)
                       if (checkpoint_dir / name / "MANIFEST").exists()))
    latest = checkpoint_dir / f"chk-{complete[-1]}"
    # The latest complete one loses bytes of a file; a later one has no MANIFEST at all.
    segments = sorted((latest / "sink4").glob("segment-*.arrows"))
    with open(segments[-1], "r+b") as file:
        file.truncate(max(0, os.path.getsize(segments[-1]) - 10))
    (checkpoint_dir / "chk-9999" / "sink4").mkdir(parents=True)
    with pytest.warns(RuntimeWarning) as caught:
        table, names = restored_collect(checkpoint_dir, 2)
    messages = [str(warning.message) for warning in caught]
    assert any("chk-9999" in m and "no MANIFEST" in m for m in messages), messages
    assert any(f"chk-{complete[-1]}" in m and "bytes" in m for m in messages), messages
    assert table.equals(reference(names["DATA"]))


def start_collect(p, stream):
    """A collect() run as a Job (what Stream.collect does, without waiting), to call
    job.checkpoint() / job.savepoint() while it runs."""
    sink = p._add(_plan.collect_sink_node(), [stream._node], [stream.schema])
    return p._start([sink]), sink


def test_job_checkpoint_savepoint_and_restore_from(tmp_path):
    names = pipeline_module()
    p = ms.Pipeline(parallelism=2, batch_size=40, checkpoint_dir=str(tmp_path / "ckpt"))
    job, _ = start_collect(p, names["build"](p))
    first = job.checkpoint(timeout=30)
    second = job.checkpoint(timeout=30)
    assert 1 <= first < second
    savepoint = tmp_path / "savepoint"
    saved = job.savepoint(savepoint, timeout=30)
    assert saved > second and (savepoint / "MANIFEST").exists()
    # Real copies: the savepoint shares no file with the checkpoints.
    for file in savepoint.rglob("*.arrows"):
        assert os.stat(file).st_nlink == 1
    checkpoints = next(m for m in job.metrics() if m["operator"] == "checkpoints")
    assert checkpoints["last_checkpoint_id"] >= saved
    assert checkpoints["checkpoints_completed"] >= 3
    assert checkpoints["last_checkpoint_bytes"] > 0
    assert 0 <= checkpoints["last_checkpoint_age_s"] < 60
    assert checkpoints["last_checkpoint_duration_s"] >= 0
    job.stop()  # a bounded run is cancelled: its checkpoints stay
    assert job.status == "stopped"
    with pytest.raises(ValueError, match="run is not under way"):
        job.checkpoint(timeout=1)

    restored = pipeline_module()
    p2 = ms.Pipeline(parallelism=4, batch_size=40, restore_from=str(savepoint))
    table = restored["build"](p2).collect()
    assert table.equals(reference(restored["DATA"]))
    assert sum(restored["SEEN"]) < restored["DATA"].num_rows


def test_checkpoint_needs_a_checkpoint_dir_and_options_are_checked(tmp_path):
    names = pipeline_module()
    p = ms.Pipeline(parallelism=1, batch_size=40)
    job, _ = start_collect(p, names["build"](p))
    with pytest.raises(ValueError, match="no checkpoints: give it a checkpoint_dir"):
        job.checkpoint(timeout=1)
    job.stop()
    with pytest.raises(ValueError, match="checkpoint_interval needs a checkpoint_dir"):
        ms.Pipeline(checkpoint_interval="1s")
    with pytest.raises(ValueError, match="checkpoints_kept"):
        ms.Pipeline(checkpoint_dir=str(tmp_path), checkpoints_kept=0)
    with pytest.raises(ValueError, match="no complete checkpoint"):
        p = ms.Pipeline(restore_from=str(tmp_path / "nothing"))
        p.from_records([{"x": 1}]).collect()


def test_a_run_without_checkpoints_has_no_checkpoint_metrics():
    p = ms.Pipeline(parallelism=1)
    p.from_records([{"x": 1}]).for_each_batch(lambda batch: None)
    result = p.run()
    assert all(m["operator"] != "checkpoints" for m in result.metrics)


# ---- keyed operators: their states snapshot on h/ckptstate ------------------------------------
KEYED = """
import time
import numpy as np, pyarrow as pa, millstream as ms
from millstream import col
rng = np.random.default_rng(7)
N = 20_000
DATA = pa.table({"k": rng.integers(0, 50, N), "v": rng.integers(0, 100, N),
                 "ts": np.sort(rng.integers(0, 200_000, N)) + rng.integers(-500, 500, N)})
def slow(batch):  # ~0.4 s a run: the savepoint is taken while the windows are open
    time.sleep(0.002)
    return batch
def build(p):
    return (p.from_arrow(DATA).map_batches(slow).with_watermark("ts", max_delay="1s").key_by("k")
            .window(ms.tumbling("5s")).agg(n=ms.count(), total=ms.sum("v")))
"""


@pytest.mark.parametrize("state", ["memory", "rocksdb"])
def test_a_tumbling_window_restored_from_a_savepoint_gives_the_clean_windows(tmp_path, state):
    names: dict = {}
    exec(KEYED, names)
    clean = names["build"](ms.Pipeline(parallelism=2, batch_size=100, state=state)).collect(ordered=True)
    p = ms.Pipeline(parallelism=2, batch_size=100, state=state, checkpoint_dir=str(tmp_path / "c"))
    job, sink = start_collect(p, names["build"](p))
    try:
        job.savepoint(tmp_path / "savepoint", timeout=30)
        assert not job.done(), "the savepoint was taken after the run had ended: make it slower"
    finally:
        job.stop()
        try:
            job.wait(timeout=30)
        except (ValueError, ms.JobStopped):  # the refusal, reported here rather than at exit
            pass
    for parallelism in (1, 2, 4):
        restored = names["build"](ms.Pipeline(parallelism=parallelism, batch_size=100, state=state,
                                              restore_from=str(tmp_path / "savepoint")))
        assert restored.collect(ordered=True).equals(clean)
