"""Keyed windows against a plain-Python reference (reference.py) on random out-of-order input,
over parallelism, batch size and both state backends."""
import math
import os
import random

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import millstream as ms
from reference import session_reference, window_reference

BACKENDS = ["memory", "rocksdb"]


def random_rows(n, keys=20, jitter=4000, seed=0, step=37, null_values=True):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        value = None if null_values and rng.random() < 0.05 else round(rng.uniform(-50, 50), 3)
        rows.append({"key": f"k{rng.randint(0, keys - 1)}", "value": value,
                     "ts": 1_700_000_000_000 + i * step + rng.randint(-jitter, jitter)})
    return rows


def to_table(rows):
    return pa.table({"key": pa.array([r["key"] for r in rows], pa.string()),
                     "value": pa.array([r["value"] for r in rows], pa.float64()),
                     "ts": pa.array([r["ts"] for r in rows], pa.int64())})


def result_dict(table, names):
    out = {}
    for row in table.to_pylist():
        key = (row["key"], row["window_start"], row["window_end"])
        assert key not in out, f"window emitted twice: {key}"
        out[key] = {n: row[n] for n in names}
    return out


def assert_same(got, expected):
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        for name, value in values.items():
            g = got[key][name]
            if isinstance(value, float) and g is not None:
                assert math.isclose(g, value, rel_tol=1e-9, abs_tol=1e-9), (key, name, g, value)
            elif isinstance(value, list):
                assert sorted(g) == sorted(value), (key, name)
            else:
                assert g == value, (key, name, g, value)


AGGS = {"n": ("count", None), "nv": ("count", "value"), "total": ("sum", "value"),
        "lo": ("min", "value"), "hi": ("max", "value"), "avg": ("mean", "value"),
        "first": ("first", "value"), "last": ("last", "value"), "distinct": ("count_distinct", "value"),
        "sd": ("stddev", "value"), "var": ("var", "value"), "values": ("collect_list", "value")}


def ms_aggs(aggs):
    return {name: (getattr(ms, kind)(col) if col else getattr(ms, kind)()) for name, (kind, col) in aggs.items()}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("window", [{"kind": "tumbling", "size": 10_000},
                                    {"kind": "sliding", "size": 10_000, "slide": 2_000}], ids=["tumbling", "sliding"])
@pytest.mark.parametrize("batch_size", [1, 333, 65536])
def test_window_aggregates_match_reference(window, backend, parallelism, batch_size):
    rows = random_rows(1500 if batch_size == 1 else 6000, seed=parallelism)
    spec = ms.tumbling("10s") if window["kind"] == "tumbling" else ms.sliding("10s", "2s")
    p = ms.Pipeline(parallelism=parallelism, state=backend, batch_size=batch_size)
    aggs = AGGS if window["kind"] == "tumbling" else {"n": ("count", None), "hi": ("max", "value")}
    got = (p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="9s")  # jitter ±4 s: nothing late
           .key_by("key").window(spec).agg(**ms_aggs(aggs)).collect())
    assert got.schema.names[:3] == ["key", "window_start", "window_end"]
    expected, late = window_reference(rows, window, aggs)
    assert not late
    assert_same(result_dict(got, list(aggs)), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_session_windows_match_reference(backend, parallelism):
    rows = random_rows(3000, keys=30, step=400, jitter=3000, seed=11)
    p = ms.Pipeline(parallelism=parallelism, state=backend, batch_size=256)
    got = (p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="7s")
           .key_by("key").window(ms.session("2s")).agg(n=ms.count()).collect())
    expected = {k: {"n": v} for k, v in session_reference(rows, 2000).items()}
    assert_same(result_dict(got, ["n"]), expected)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), batch_size=st.sampled_from([1, 5, 64, 4096]),
       backend=st.sampled_from(BACKENDS))
def test_late_rows_at_parallelism_one_match_reference(seed, batch_size, backend):
    rows = random_rows(800, jitter=20_000, seed=seed, step=50)  # much later than max_delay
    window = {"kind": "tumbling", "size": 5_000}
    p = ms.Pipeline(parallelism=1, state=backend, batch_size=batch_size)
    w = p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="2s").key_by("key").window(ms.tumbling("5s"))
    out = w.agg(n=ms.count(), total=ms.sum("value"))
    late = w.late()
    got, got_late = p.collect(out, late)
    expected, expected_late = window_reference(rows, window, {"n": ("count", None), "total": ("sum", "value")}, max_delay=2000)
    assert_same(result_dict(got, ["n", "total"]), expected)
    assert sorted(got_late.column("ts").to_pylist()) == sorted(r["ts"] for r in expected_late)
    # nothing is lost: every row is in a window or in late()
    assert sum(got.column("n").to_pylist()) + got_late.num_rows == len(rows)


@pytest.mark.parametrize("backend", BACKENDS)
def test_late_rows_are_conserved_at_any_parallelism(backend, parallelism):
    rows = random_rows(5000, jitter=30_000, seed=5, step=20)
    p = ms.Pipeline(parallelism=parallelism, state=backend, batch_size=100)
    w = p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="1s").key_by("key").window(ms.tumbling("2s"))
    out = w.agg(n=ms.count())
    late = w.late()
    windows, late_table = p.collect(out, late)  # one run: lateness varies between runs at P > 1
    counted = sum(windows.column("n").to_pylist())
    late_rows = late_table.num_rows
    assert late_rows > 0
    assert counted + late_rows == len(rows)
    # the window reads key and ts only, but its late rows keep every input column
    assert late_table.schema.names == ["key", "value", "ts"]
    as_tuples = lambda rs: sorted((r["key"], r["ts"], r["value"] is None, r["value"] or 0) for r in rs)
    assert set(as_tuples(late_table.to_pylist())) <= set(as_tuples(rows))


def test_allowed_lateness_updates_windows():
    rows = random_rows(2000, jitter=15_000, seed=9, step=40)
    window = {"kind": "tumbling", "size": 5_000}
    p = ms.Pipeline(parallelism=1, batch_size=50)
    w = (p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="2s").key_by("key")
         .window(ms.tumbling("5s"), allowed_lateness="6s"))
    out = w.agg(n=ms.count())
    late = w.late()
    got, got_late = p.collect(out, late)
    assert "is_update" in got.schema.names
    final = {}
    for row in got.to_pylist():  # the last emission of a window is its final value
        final[(row["key"], row["window_start"], row["window_end"])] = {"n": row["n"]}
    assert any(r["is_update"] for r in got.to_pylist())
    expected, expected_late = window_reference(rows, window, {"n": ("count", None)}, max_delay=2000, allowed_lateness=6000)
    assert_same(final, expected)
    assert got_late.num_rows == len(expected_late)


def test_global_window_without_key(parallelism):
    rows = random_rows(3000, seed=2)
    p = ms.Pipeline(parallelism=parallelism)
    got = (p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="9s")
           .window(ms.tumbling("10s")).agg(n=ms.count()).collect())
    assert got.schema.names == ["window_start", "window_end", "n"]
    expected = {}
    for row in rows:
        start = row["ts"] // 10_000 * 10_000
        expected[start] = expected.get(start, 0) + 1
    assert dict(zip(got.column("window_start").to_pylist(), got.column("n").to_pylist())) == expected


def test_timestamp_time_column_keeps_its_type():
    rows = random_rows(500, seed=4)
    table = to_table(rows).set_column(2, "ts", pa.array([r["ts"] * 1000 for r in rows], pa.timestamp("us")))
    got = (ms.Pipeline(parallelism=2).from_arrow(table).with_watermark("ts", max_delay="9s")
           .key_by("key").window(ms.tumbling("10s")).agg(n=ms.count()).collect())
    assert got.schema.field("window_start").type == pa.timestamp("us")
    assert sum(got.column("n").to_pylist()) == 500


def test_running_aggregation_changelog(parallelism):
    rows = random_rows(4000, seed=6, null_values=False)
    p = ms.Pipeline(parallelism=parallelism, batch_size=500)
    got = p.from_arrow(to_table(rows)).key_by("key").agg(n=ms.count(), total=ms.sum("value")).collect()
    final = {}
    for row in got.to_pylist():
        final[row["key"]] = (row["n"], row["total"])
    expected = {}
    for row in rows:
        n, total = expected.get(row["key"], (0, 0.0))
        expected[row["key"]] = (n + 1, total + row["value"])
    assert final.keys() == expected.keys()
    for key, (n, total) in expected.items():
        assert final[key][0] == n and math.isclose(final[key][1], total, abs_tol=1e-6)
    assert got.num_rows <= len(expected) * (4000 // 500 + 1)  # one update per key per batch at most


def test_running_aggregation_beyond_the_hot_budget_reads_state_back(parallelism):
    # 60 000 keys (~6 MB of hot state) against 4 MB of state memory: keys go to RocksDB and come
    # back; the final value of every key must still be exact, and the metrics must show the trips.
    rng = random.Random(11)
    keys = [rng.randrange(60_000) for _ in range(240_000)]
    table = pa.table({"key": pa.array(keys, pa.int64()), "value": pa.array([float(k % 7) for k in keys])})
    p = ms.Pipeline(parallelism=parallelism, state="rocksdb", state_memory="4MB", batch_size=8192)
    batches = []
    p.from_arrow(table).key_by("key").agg(n=ms.count(), total=ms.sum("value")).for_each_batch(batches.append)
    agg = p.run().operator("agg")
    final = {}
    for batch in batches:
        for key, n, total in zip(*(batch.column(name).to_pylist() for name in ("key", "n", "total"))):
            final[key] = (n, total)
    expected = {}
    for key in keys:
        n, total = expected.get(key, (0, 0.0))
        expected[key] = (n + 1, total + float(key % 7))
    assert final == expected
    assert agg["state_writes"] > 0 and agg["state_reads"] > 0


def test_state_memory_defaults_to_a_quarter_of_the_machine(monkeypatch):
    from millstream import pipeline as pipeline_module

    assert ms.Pipeline(state_memory="1.5GB").state_memory_bytes == 3 << 29
    assert ms.Pipeline(state_memory=64 << 20).state_memory_bytes == 64 << 20
    with pytest.raises(ValueError, match="state_memory"):
        ms.Pipeline(state_memory="lots")
    monkeypatch.setattr(pipeline_module, "_machine_memory_bytes", lambda: 24 << 30)
    assert ms.Pipeline(state="rocksdb").state_memory_bytes == 6 << 30
    monkeypatch.setattr(pipeline_module, "_machine_memory_bytes", lambda: 128 << 20)
    assert ms.Pipeline(state="rocksdb").state_memory_bytes == 64 << 20  # the floor
    # the real machine's (or container's) memory, whatever it is
    assert 0 < pipeline_module._machine_memory_bytes() <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def test_window_needs_event_time():
    s = ms.Pipeline(parallelism=1).from_arrow(to_table(random_rows(10)))
    with pytest.raises(ValueError, match="with_watermark"):
        s.key_by("key").window(ms.tumbling("10s")).agg(n=ms.count())


def test_state_is_cleaned_up_over_a_long_run(parallelism):
    rows = random_rows(200_000, keys=50, jitter=1000, seed=8, step=10, null_values=False)
    p = ms.Pipeline(parallelism=parallelism, batch_size=1000)
    p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="2s").key_by("key") \
        .window(ms.tumbling("1s")).agg(n=ms.count()).for_each_batch(lambda b: None)
    window = p.run().operator("window")
    # ~2000 s of event time, 50 keys: without cleanup 100 000 windows would stay alive. At P > 1
    # the splits take turns at blocks of 1000 rows (10 s), so their watermarks advance together
    # and the open windows span about two blocks per split, not half the input (50 000 windows).
    assert window["state_entries"] == 0
    assert 0 < window["state_entries_peak"] < 50 * (12 + 25 * parallelism)


def test_splits_stay_together_when_blocks_come_in_uneven_chunks():
    # Blocks of 1000 rows; the even blocks (split 0's at P=2) arrive in 4 record batches, the odd
    # ones in 1. Were the splits kept together by chunks read, split 1 would read 4 blocks for
    # each of split 0's and the watermark (the slower split's) would fall behind the rows by a
    # growing share of the input, keeping its windows open.
    rows = random_rows(200_000, keys=50, jitter=1000, seed=9, step=10, null_values=False)
    table = to_table(rows)
    pieces = []
    for start in range(0, table.num_rows, 1000):
        block = table.slice(start, 1000)
        parts = 4 if (start // 1000) % 2 == 0 else 1
        pieces += [block.slice(i * 250, 250) if parts == 4 else block for i in range(parts)]
    uneven = pa.concat_tables(pieces)
    assert uneven.column("ts").num_chunks == 500
    peaks = {}
    for parallelism in (1, 2):
        p = ms.Pipeline(parallelism=parallelism, batch_size=1000)
        p.from_arrow(uneven).with_watermark("ts", max_delay="2s").key_by("key") \
            .window(ms.tumbling("1s")).agg(n=ms.count()).for_each_batch(lambda b: None)
        peaks[parallelism] = p.run().operator("window")["state_entries_peak"]
    # ~2000 s of event time, 10 s per block (500 windows of 50 keys): P=2 may add a few blocks
    # to the open span (measured: 555 at P=1, 1607 at P=2)
    assert peaks[2] < peaks[1] + 5 * 500, peaks  # counted by chunks: 35 K


def test_rocksdb_state_larger_than_its_cache(tmp_path):
    rows = 400_000
    table = pa.table({"key": pa.array([f"user-{i:08d}-{'x' * 40}" for i in range(rows)]),
                      "value": pa.array([float(i) for i in range(rows)]),
                      "ts": pa.array([1_700_000_000_000 + i for i in range(rows)], pa.int64())})
    p = ms.Pipeline(parallelism=2, state="rocksdb", state_dir=str(tmp_path / "state"), state_memory="8MB")
    got = (p.from_arrow(table).with_watermark("ts", max_delay="1s").key_by("key")
           .window(ms.tumbling("1d")).agg(n=ms.count(), values=ms.collect_list("value")).collect())
    # ~400 000 live windows with ~100 B of key and state each: ~40 MB, 5x the 8 MB budget
    assert got.num_rows == rows and set(got.column("n").to_pylist()) == {1}


def test_processing_time_tumbling_window_counts_every_row(parallelism):
    table = pa.table({"key": pa.array(["a", "b", "a"] * 1000), "value": pa.array([1.0] * 3000)})
    p = ms.Pipeline(parallelism=parallelism)
    got = p.from_arrow(table).key_by("key").window(ms.tumbling("10s", time="processing")) \
        .agg(n=ms.count()).collect()
    assert got.schema.names[:3] == ["key", "window_start", "window_end"]
    totals = {}
    for row in got.to_pylist():
        totals[row["key"]] = totals.get(row["key"], 0) + row["n"]
        assert (row["window_end"] - row["window_start"]).total_seconds() == 10  # wall-clock timestamps
    assert totals == {"a": 2000, "b": 1000}


@pytest.mark.parametrize("backend", BACKENDS)
def test_sliding_partly_late_rows_are_counted(backend):
    # (P=1: at P > 1 the rows go to splits whose watermarks advance apart.)
    # ts 350 000 comes after the watermark 600 000: its window [0, 600 000) has fired (the row is
    # dropped from it: Flink's rule), its window [300 000, 900 000) is open (the row counts there).
    table = pa.table({"key": [1, 1, 1], "ts": [0, 600_000, 350_000]})
    p = ms.Pipeline(parallelism=1, state=backend, batch_size=1)
    w = p.from_arrow(table).with_watermark("ts", max_delay="0s").key_by("key").window(ms.sliding("10m", "5m"))
    out = w.agg(n=ms.count())
    got = {}
    out.for_each_batch(lambda b: got.update(
        {(s, e): n for s, e, n in zip(b["window_start"].to_pylist(), b["window_end"].to_pylist(), b["n"].to_pylist())}))
    late = []
    w.late().for_each_batch(lambda b: late.extend(b["ts"].to_pylist()))
    window = p.run().operator("window")
    to_ms = lambda t: t if isinstance(t, int) else int(t.timestamp() * 1000)
    got = {(to_ms(s), to_ms(e)): n for (s, e), n in got.items()}
    assert got[(0, 600_000)] == 1
    assert got[(300_000, 900_000)] == 2
    assert late == [] and window["rows_late"] == 0
    assert window["window_contributions_dropped"] == 1


def test_sliding_dropped_contributions_match_a_reference():
    rows = random_rows(3000, jitter=12_000, seed=3, step=20, null_values=False)
    size, slide, delay = 10_000, 2_000, 1_000
    p = ms.Pipeline(parallelism=1, batch_size=97)
    w = (p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="1s").key_by("key")
         .window(ms.sliding("10s", "2s")))
    w.agg(n=ms.count()).for_each_batch(lambda b: None)
    w.late().for_each_batch(lambda b: None)
    window = p.run().operator("window")
    # Reference: the watermark before each row is the largest earlier time minus the delay; a
    # row's windows end at e = k*slide in (ts, ts + size]; a window with e <= watermark is closed.
    dropped = late = 0
    watermark = None
    for row in rows:
        ts = row["ts"]
        ends = [e for e in range((ts // slide + 1) * slide, ts + size + 1, slide)]
        closed = [e for e in ends if watermark is not None and e <= watermark]
        if len(closed) == len(ends):
            late += 1
        else:
            dropped += len(closed)
        watermark = max(watermark if watermark is not None else ts - delay, ts - delay)
    assert window["rows_late"] == late
    assert window["window_contributions_dropped"] == dropped
    assert dropped > 0


def test_a_late_heavy_run_stops_promptly():
    # The input followed by the same rows again: the second copy is late. Such runs used to go
    # as one-row batches and a stop waited for the queued ones (~19 s). Run in a subprocess with
    # a time limit, so that a hang fails this test instead of the test run.
    import subprocess
    import sys
    import textwrap

    program = textwrap.dedent("""
        import time
        import pyarrow as pa
        import millstream as ms
        n = 400_000
        day = pa.table({"key": [i % 1000 for i in range(n)], "ts": [i * 50 for i in range(n)]})
        p = ms.Pipeline(parallelism=2)
        w = p.from_arrow(pa.concat_tables([day] * 20)).with_watermark("ts", max_delay="1s") \\
            .key_by("key").window(ms.tumbling("10s"))
        w.agg(n=ms.count()).for_each_batch(lambda b: None)
        w.late().for_each_batch(lambda b: None)
        job = p.start()
        while not any(m["rows_late"] > 0 for m in job.metrics()) and not job.done():
            time.sleep(0.01)
        started = time.perf_counter()
        job.stop()
        print(job.done(), round(time.perf_counter() - started, 3))
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    done, seconds = result.stdout.split()
    assert done == "True"
    assert float(seconds) < 2.0, result.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_late_rows_through_a_filter_do_not_depend_on_batch_size(backend):
    # A filter between with_watermark and the window renumbers the watermark marks in the rows
    # it keeps: the late rows and windows are those of one-row batches.
    rows = random_rows(1500, jitter=20_000, seed=12, step=50)
    outcomes = []
    for batch_size in (1, 7, 4096):
        p = ms.Pipeline(parallelism=1, state=backend, batch_size=batch_size)
        w = (p.from_arrow(to_table(rows)).with_watermark("ts", max_delay="2s")
             .filter(ms.col("value").is_null() | (ms.col("value") > -20)).select("key", "ts", "value").key_by("key")
             .window(ms.sliding("5s", "1s")))
        got, late = p.collect(w.agg(n=ms.count()), w.late())
        outcomes.append((sorted(result_dict(got, ["n"]).items()), sorted(late["ts"].to_pylist())))
    assert outcomes[0][1], "the input should have late rows"
    assert outcomes[1] == outcomes[0] and outcomes[2] == outcomes[0]
