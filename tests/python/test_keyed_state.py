"""Keyed state far beyond its budget: with state_memory="1MB" (512 KB of hot state, shared by
the subtasks) and ~20 MB of live state, nearly every key goes to RocksDB and comes back, many
times over; results must still be exact against plain Python, at every parallelism."""
import random

import pyarrow as pa

import millstream as ms
from reference import session_reference, window_reference


def test_running_aggregation_20x_beyond_its_budget_is_exact(parallelism):
    # 150 000 keys of ~130 bytes of hot state each (~20 MB): ~20x state_memory, ~40x its hot half;
    # out of order (keys drawn at random), with keys coming back after long absences.
    rng = random.Random(20)
    keys = [rng.randrange(150_000) for _ in range(300_000)]
    values = [rng.randrange(-1000, 1000) for _ in keys]
    table = pa.table({"key": pa.array(keys, pa.int64()), "value": pa.array(values, pa.int64())})
    p = ms.Pipeline(parallelism=parallelism, state="rocksdb", state_memory="1MB", batch_size=4096)
    batches = []
    p.from_arrow(table).key_by("key").agg(n=ms.count(), total=ms.sum("value"), hi=ms.max("value")) \
        .for_each_batch(batches.append)
    agg = p.run().operator("agg")
    final = {}
    for batch in batches:
        for key, n, total, hi in zip(*(batch.column(name).to_pylist() for name in ("key", "n", "total", "hi"))):
            final[key] = (n, total, hi)
    expected = {}
    for key, value in zip(keys, values):
        n, total, hi = expected.get(key, (0, 0, None))
        expected[key] = (n + 1, total + value, value if hi is None else max(hi, value))
    assert final == expected
    # most rows found their key in the backend, and every key was written there at least once
    assert agg["state_reads"] > 100_000 and agg["state_writes"] >= 140_000
    assert agg["state_entries"] == 0
    # the peak is noted after each batch; another subtask may then be amid its batch, its new keys
    # counted before the backend says they are old ones (at most a batch each)
    assert len(expected) <= agg["state_entries_peak"] <= len(expected) + 4096 * (parallelism - 1)


def test_tumbling_window_20x_beyond_its_budget_is_exact(parallelism):
    # one-hour windows over 100 000 keys: ~100 000 live groups (~20 MB) when the first window fires
    rng = random.Random(21)
    rows = 250_000
    keys = [rng.randrange(100_000) for _ in range(rows)]
    times = [1_700_000_000_000 + i * 20 + rng.randrange(4000) for i in range(rows)]  # ~83 min, jittered
    table = pa.table({"key": pa.array(keys, pa.int64()), "ts": pa.array(times, pa.int64()),
                      "value": pa.array([k % 13 for k in keys], pa.int64())})
    p = ms.Pipeline(parallelism=parallelism, state="rocksdb", state_memory="1MB", batch_size=4096)
    batches = []
    (p.from_arrow(table).with_watermark("ts", max_delay="5s").key_by("key")
     .window(ms.tumbling("1h")).agg(n=ms.count(), total=ms.sum("value")).for_each_batch(batches.append))
    window = p.run().operator("window")
    got = pa.Table.from_batches(batches).to_pylist()
    expected = {}
    for key, ts in zip(keys, times):
        start = ts // 3_600_000 * 3_600_000
        n, total = expected.get((key, start), (0, 0))
        expected[(key, start)] = (n + 1, total + key % 13)
    got_windows = {}
    for row in got:
        assert (row["key"], row["window_start"]) not in got_windows, "a window emitted twice"
        got_windows[(row["key"], row["window_start"])] = (row["n"], row["total"])
    assert window["rows_late"] == 0  # the jitter (4 s) is within max_delay (5 s)
    assert got_windows == expected
    assert window["state_writes"] > 50_000 and window["state_entries"] == 0


def _jittered_rows(seed, rows, keys):
    """~83 minutes of rows over `keys` keys drawn at random, out of order by up to 4 s."""
    rng = random.Random(seed)
    key_list = [rng.randrange(keys) for _ in range(rows)]
    times = [1_700_000_000_000 + i * 20 + rng.randrange(4000) for i in range(rows)]
    return key_list, times


def test_sliding_window_20x_beyond_its_budget_is_exact(parallelism):
    # one-hour windows sliding by 20 minutes over 100 000 keys: a key's groups of ~4 panes are
    # live at once (~150 000 groups, ~20 MB), against 1 MB of state_memory
    keys, times = _jittered_rows(22, 250_000, 100_000)
    table = pa.table({"key": pa.array(keys, pa.int64()), "ts": pa.array(times, pa.int64()),
                      "value": pa.array([k % 13 for k in keys], pa.int64())})
    p = ms.Pipeline(parallelism=parallelism, state="rocksdb", state_memory="1MB", batch_size=4096)
    batches = []
    (p.from_arrow(table).with_watermark("ts", max_delay="5s").key_by("key")
     .window(ms.sliding("1h", "20m")).agg(n=ms.count(), total=ms.sum("value"))
     .for_each_batch(batches.append))
    window = p.run().operator("window")
    rows = [{"key": k, "ts": t, "value": k % 13} for k, t in zip(keys, times)]
    expected, late = window_reference(rows, {"kind": "sliding", "size": 3_600_000, "slide": 1_200_000},
                                      {"n": ("count", None), "total": ("sum", "value")})
    assert not late
    got = {}
    for row in pa.Table.from_batches(batches).to_pylist():
        key = (row["key"], row["window_start"], row["window_end"])
        assert key not in got, "a window emitted twice"
        got[key] = {"n": row["n"], "total": row["total"]}
    assert window["rows_late"] == 0  # the jitter (4 s) is within max_delay (5 s)
    assert got == expected
    assert window["state_writes"] > 50_000 and window["state_reads"] > 0
    assert window["state_entries"] == 0


def test_session_window_20x_beyond_its_budget_is_exact(parallelism):
    # 30-minute gaps over 100 000 keys: a key's session stays open 30 minutes after its last
    # row (~70 000 live sessions, ~10-20x the hot half of 1 MB); keys come back after long
    # absences, merging into sessions that wait in the backend
    keys, times = _jittered_rows(23, 250_000, 100_000)
    table = pa.table({"key": pa.array(keys, pa.int64()), "ts": pa.array(times, pa.int64())})
    p = ms.Pipeline(parallelism=parallelism, state="rocksdb", state_memory="1MB", batch_size=4096)
    batches = []
    (p.from_arrow(table).with_watermark("ts", max_delay="5s").key_by("key")
     .window(ms.session("30m")).agg(n=ms.count()).for_each_batch(batches.append))
    window = p.run().operator("window")
    expected = session_reference([{"key": k, "ts": t} for k, t in zip(keys, times)], 1_800_000)
    got = {}
    for row in pa.Table.from_batches(batches).to_pylist():
        key = (row["key"], row["window_start"], row["window_end"])
        assert key not in got, "a session emitted twice"
        got[key] = row["n"]
    assert window["rows_late"] == 0
    assert got == expected
    assert window["state_writes"] > 20_000 and window["state_reads"] > 0
    assert window["state_entries"] == 0
