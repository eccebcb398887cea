"""Running: metrics, background jobs, Ctrl-C, the GIL released while the engine runs."""
import _thread
import os
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

import millstream as ms
from millstream import col


def big_table(rows=2_000_000):
    return pa.table({"x": np.arange(rows, dtype=np.int64), "y": np.random.default_rng(0).random(rows)})


def test_run_returns_metrics(tmp_path):
    p = ms.Pipeline(parallelism=2, batch_size=1000)
    s = p.from_arrow(big_table(10_000)).filter(col("x") % 2 == 0)
    out = tmp_path / "even.jsonl"
    s.write_jsonl(out)
    result = p.run()
    assert result.operator("filter")["rows_in"] == 10_000
    assert result.operator("filter")["rows_out"] == 5_000
    assert result.operator("write_jsonl")["rows_in"] == 5_000
    assert result.seconds > 0
    assert sum(1 for _ in open(out)) == 5_000


def test_gil_is_released_while_the_engine_runs():
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    p = ms.Pipeline(parallelism=2)
    s = p.from_arrow(big_table(4_000_000)).filter(col("y") > 0.5).with_columns(z=col("x") * 3)
    thread.start()
    started = time.perf_counter()
    s.collect()
    ended = time.perf_counter()
    stop.set()
    thread.join(timeout=5)
    during = [t for t in ticks if started < t < ended]
    # a Python thread kept running during the run (with the GIL held it could not tick at all)
    assert len(during) >= max(1, int((ended - started) / 0.01))


def slow(batch):
    time.sleep(0.05)
    return batch


def test_ctrl_c_cancels_a_run_within_a_second():
    p = ms.Pipeline(parallelism=2, batch_size=1000)
    s = p.from_arrow(big_table(1_000_000)).map_batches(slow)
    threads_before = os_threads()
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        s.collect()
    assert time.perf_counter() - started < 0.5 + 1.0
    timer.join()
    assert os_threads() <= threads_before  # the engine's threads are gone


def os_threads():
    return len(os.listdir("/proc/self/task"))


def test_background_job_stops():
    p = ms.Pipeline(parallelism=2, batch_size=1000)
    seen = []
    p.from_arrow(big_table(1_000_000)).map_batches(slow).for_each_batch(lambda b: seen.append(b.num_rows))
    job = p.start()
    assert not job.wait(timeout=0.3)
    assert any(m["rows_in"] > 0 for m in job.metrics())
    started = time.perf_counter()
    job.stop()
    assert time.perf_counter() - started < 1.0
    assert job.done()


def test_run_without_sink_explains():
    p = ms.Pipeline(parallelism=1)
    p.from_records([{"x": 1}])
    with pytest.raises(ValueError, match="no sink"):
        p.run()
