"""The interval join (`a.join(b, on=..., within=..., how=...)`) against a plain-Python reference:
A and B events of one source with a shared key over days, 70% of partners within 15 minutes,
20% hours apart, 10% never, out of order within the watermark delay; every `how`, asymmetric
bounds, several key columns, null keys, duplicate keys, both backends, parallelism 1/2/4,
batch sizes, state far beyond state_memory, and the live state bounded on a long stream."""
import random

import pyarrow as pa
import pytest

import millstream as ms
from millstream import col

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
START = 1_700_000_000_000
DELAY = 2 * MINUTE  # the watermark's max_delay; arrival order is shuffled within it


def make_events(n_pairs, seed, key_space=None, null_key_share=0.0):
    """A and B events over three days: per pair an A at a random time and its B 70% within
    15 minutes of it, 20% 1-6 hours away, 10% missing (half of those the A is missing
    instead). Keys repeat when key_space < n_pairs (duplicate keys). Rows arrive ordered by
    time plus a random delay under DELAY: out of order, none late."""
    rng = random.Random(seed)
    key_space = key_space or n_pairs
    rows = []

    def add(kind, key, ts):
        if rng.random() < null_key_share:
            key = None
        rows.append({"key": key, "ts": ts, "type": kind, "val": rng.randrange(1000)})

    for _ in range(n_pairs):
        key = rng.randrange(key_space)
        ts_a = START + rng.randrange(3 * DAY)
        fate = rng.random()
        if fate < 0.7:
            ts_b = ts_a + rng.randrange(-15 * MINUTE, 15 * MINUTE + 1)
        elif fate < 0.9:
            ts_b = ts_a + rng.choice([-1, 1]) * rng.randrange(HOUR, 6 * HOUR)
        else:
            ts_b = None
        if ts_b is None and rng.random() < 0.5:
            add("B", key, ts_a)  # only a B
            continue
        add("A", key, ts_a)
        if ts_b is not None:
            add("B", key, ts_b)
    arrival = sorted(range(len(rows)), key=lambda i: rows[i]["ts"] + rng.randrange(DELAY))
    return [rows[i] for i in arrival]


def to_table(rows, timestamp=False):
    columns = {
        "key": pa.array([r["key"] for r in rows], pa.int64()),
        "ts": pa.array([r["ts"] for r in rows], pa.timestamp("ms") if timestamp else pa.int64()),
        "type": pa.array([r["type"] for r in rows], pa.string()),
        "val": pa.array([r["val"] for r in rows], pa.int64()),
    }
    return pa.table(columns)


def reference(rows, keys, lower_ms, upper_ms, how):
    """The join as a batch query: every pair of an A and a B of equal (non-null) keys with
    b.ts - a.ts in [lower, upper]; unmatched rows of the outer sides with nulls."""
    left = [r for r in rows if r["type"] == "A"]
    right = [r for r in rows if r["type"] == "B"]
    by_key = {}
    for index, r in enumerate(right):
        k = tuple(r[c] for c in keys)
        if None not in k:
            by_key.setdefault(k, []).append(index)
    right_matched = [False] * len(right)
    out = []
    other = [c for c in ("ts", "type", "val") if c not in keys]
    for a in left:
        k = tuple(a[c] for c in keys)
        matched = False
        for index in by_key.get(k, []) if None not in k else []:
            b = right[index]
            if lower_ms <= b["ts"] - a["ts"] <= upper_ms:
                matched = True
                right_matched[index] = True
                out.append(k + tuple(a[c] for c in other) + tuple(b[c] for c in other))
        if not matched and how in ("left", "outer"):
            out.append(k + tuple(a[c] for c in other) + (None,) * len(other))
    if how in ("right", "outer"):
        for index, b in enumerate(right):
            if not right_matched[index]:
                k = tuple(b[c] for c in keys)
                out.append(k + (None,) * len(other) + tuple(b[c] for c in other))
    return sorted(out, key=sort_key)


def sort_key(row):
    return tuple((value is None, value) for value in row)


def run_join(rows, keys, within, how, parallelism, state="memory", batch_size=None,
             state_memory=None):
    p = ms.Pipeline(parallelism=parallelism, state=state, batch_size=batch_size,
                    state_memory=state_memory)
    events = p.from_arrow(to_table(rows))
    a = events.filter(col("type") == "A").with_watermark("ts", max_delay=DELAY)
    b = events.filter(col("type") == "B").with_watermark("ts", max_delay=DELAY)
    joined = a.join(b, on=keys, within=within, how=how)
    batches = []
    joined.for_each_batch(batches.append)
    result = p.run()
    table = pa.Table.from_batches(batches, schema=joined.schema)
    return table, result.operator("join")


def rows_of(table, keys):
    other = ["ts", "type", "val"]
    names = keys + other + [f"{c}_right" for c in other]
    columns = [table.column(n).to_pylist() for n in names]
    if pa.types.is_timestamp(table.schema.field("ts").type):
        for c in (len(keys), len(keys) + 3):
            columns[c] = [None if v is None else int(v.timestamp() * 1000) for v in columns[c]]
    return sorted(zip(*columns), key=sort_key)


@pytest.mark.parametrize("state", ["memory", "rocksdb"])
@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_join_matches_reference(how, state, parallelism):
    rows = make_events(6000, seed=1, key_space=4000, null_key_share=0.02)
    table, metrics = run_join(rows, ["key"], "15m", how, parallelism, state=state, batch_size=997)
    assert rows_of(table, ["key"]) == reference(rows, ["key"], -15 * MINUTE, 15 * MINUTE, how)
    assert metrics["rows_late"] == 0
    assert metrics["state_entries"] == 0


@pytest.mark.parametrize("within,lower,upper", [
    (("-5m", "20m"), -5 * MINUTE, 20 * MINUTE),
    (("2m", "30m"), 2 * MINUTE, 30 * MINUTE),         # excludes 0: B strictly after A
    (("-90m", "-1m"), -90 * MINUTE, -1 * MINUTE),     # B before A
    ((0, 0), 0, 0),                                   # equal times only
])
@pytest.mark.parametrize("how", ["inner", "outer"])
def test_asymmetric_bounds(within, lower, upper, how, parallelism):
    rows = make_events(5000, seed=2, key_space=2500)
    table, _ = run_join(rows, ["key"], within, how, parallelism)
    assert rows_of(table, ["key"]) == reference(rows, ["key"], lower, upper, how)


def test_several_key_columns_and_timestamps(parallelism):
    rows = make_events(5000, seed=3, key_space=1500, null_key_share=0.03)
    rng = random.Random(3)
    for r in rows:
        r["region"] = None if rng.random() < 0.02 else f"r{rng.randrange(3)}"
    p = ms.Pipeline(parallelism=parallelism, batch_size=512)
    table = to_table(rows, timestamp=True).append_column(
        "region", pa.array([r["region"] for r in rows], pa.string()))
    events = p.from_arrow(table)
    a = events.filter(col("type") == "A").with_watermark("ts", max_delay=DELAY)
    b = events.filter(col("type") == "B").with_watermark("ts", max_delay=DELAY)
    got = a.join(b, on=["key", "region"], within="15m", how="outer").collect()
    assert got.schema.names == ["key", "ts", "type", "val", "region", "ts_right", "type_right",
                                "val_right"]
    assert got.schema.field("ts").type == pa.timestamp("ms")
    names = ["key", "region", "ts", "type", "val", "ts_right", "type_right", "val_right"]
    columns = [got.column(n).to_pylist() for n in names]
    for c in (2, 5):
        columns[c] = [None if v is None else int(v.timestamp() * 1000) for v in columns[c]]
    expected = reference(rows, ["key", "region"],
                         -15 * MINUTE, 15 * MINUTE, "outer")
    assert sorted(zip(*columns), key=sort_key) == expected


@pytest.mark.parametrize("batch_size", [1, 37, 4096, 65536])
def test_any_batch_size(batch_size):
    rows = make_events(1500 if batch_size == 1 else 6000, seed=4, key_space=1000,
                       null_key_share=0.02)
    for parallelism in (1, 2):
        table, _ = run_join(rows, ["key"], "15m", "outer", parallelism, batch_size=batch_size)
        assert rows_of(table, ["key"]) == reference(rows, ["key"], -15 * MINUTE, 15 * MINUTE,
                                                    "outer")


def test_duplicate_keys_give_every_pair_in_the_interval(parallelism):
    # 40 keys over 6000 pairs: ~300 rows a key, many A and B of one key within 15 minutes
    rows = make_events(6000, seed=5, key_space=40)
    table, _ = run_join(rows, ["key"], "15m", "outer", parallelism, state="rocksdb")
    expected = reference(rows, ["key"], -15 * MINUTE, 15 * MINUTE, "outer")
    assert len(expected) > 6000
    assert rows_of(table, ["key"]) == expected


def test_spills_far_beyond_state_memory_and_stays_exact(parallelism):
    # ~150 000 rows live within a day-long interval (~100 B each in memory), state_memory 1 MB
    rows = make_events(60_000, seed=6, key_space=50_000, null_key_share=0.01)
    table, metrics = run_join(rows, ["key"], "1d", "outer", parallelism, state="rocksdb",
                              state_memory="1MB", batch_size=4096)
    assert rows_of(table, ["key"]) == reference(rows, ["key"], -DAY, DAY, "outer")
    assert metrics["state_writes"] > 10_000 and metrics["state_reads"] > 10_000
    assert metrics["state_entries"] == 0


def test_live_state_stays_bounded_on_a_long_stream():
    # 400 000 events, one every 100 ms (11 hours); each key's A and B within a minute. Keys
    # whose rows are within 15 minutes + the delay of the watermark: ~(15 + 2 + 1) * 600 / 2.
    n = 400_000
    rng = random.Random(7)
    keys = [i // 2 for i in range(n)]
    times = [START + (i // 2) * 200 + (i % 2) * rng.randrange(MINUTE) for i in range(n)]
    table = pa.table({"key": keys, "ts": times, "side": [i % 2 for i in range(n)]})
    p = ms.Pipeline(parallelism=2, batch_size=4096)
    events = p.from_arrow(table).with_watermark("ts", max_delay=DELAY)
    a = events.filter(col("side") == 0)
    b = events.filter(col("side") == 1)
    counts = []
    a.join(b, on="key", within="15m", how="outer").select("key").for_each_batch(
        lambda batch: counts.append(batch.num_rows))
    join = p.run().operator("join")
    assert sum(counts) == n // 2  # every A met its B
    assert join["state_entries_peak"] < 15_000, join
    assert join["state_entries"] == 0


def test_windows_follow_a_join():
    # The join's output watermark lets a window close: matched pairs counted per hour of A's time.
    rows = make_events(4000, seed=8, key_space=3000)
    p = ms.Pipeline(parallelism=2, batch_size=256)
    events = p.from_arrow(to_table(rows))
    a = events.filter(col("type") == "A").with_watermark("ts", max_delay=DELAY)
    b = events.filter(col("type") == "B").with_watermark("ts", max_delay=DELAY)
    joined = a.join(b, on="key", within="15m", how="inner")
    counted = joined.key_by("type").window(ms.tumbling("1h")).agg(n=ms.count())
    result = p.collect(counted, joined)
    windows = {row["window_start"]: row["n"] for row in result[0].to_pylist()}
    expected = {}
    for row in result[1].to_pylist():
        start = row["ts"] // HOUR * HOUR
        expected[start] = expected.get(start, 0) + 1
    assert windows == expected  # a row late at the window would be missing from it


def test_errors_name_the_problem():
    p = ms.Pipeline(parallelism=1)
    a = p.from_records([{"k": 1, "ts": 0}]).with_watermark("ts")
    b32 = p.from_arrow(pa.table({"k": pa.array([1], pa.int32()), "ts": [0]})).with_watermark("ts")
    with pytest.raises(TypeError, match="int32 on the right"):
        a.join(b32, on="k", within="1m")
    no_time = p.from_records([{"k": 1, "ts": 0}])
    with pytest.raises(ValueError, match="right stream has no event time"):
        a.join(no_time, on="k", within="1m")
    with pytest.raises(ValueError, match="how must be"):
        a.join(a, on="k", within="1m", how="full")
    with pytest.raises(ValueError, match="lower > upper"):
        a.join(a, on="k", within=("5m", "1m"))
    with pytest.raises(ValueError, match="no column 'x'"):
        a.join(a, on="x", within="1m")


def test_self_join():
    p = ms.Pipeline(parallelism=2)
    a = p.from_records([{"k": 1, "ts": 0}, {"k": 2, "ts": 0}, {"k": 1, "ts": 1000}]) \
        .with_watermark("ts")
    got = a.join(a, on="k", within="1s").collect().to_pylist()
    assert sorted((r["k"], r["ts"], r["ts_right"]) for r in got) == [
        (1, 0, 0), (1, 0, 1000), (1, 1000, 0), (1, 1000, 1000), (2, 0, 0)]


def test_the_join_node_survives_the_plan_round_trip():
    import json

    from millstream import _core
    p = ms.Pipeline(parallelism=2)
    a = p.from_records([{"k": 1, "ts": 0}]).with_watermark("ts")
    b = p.from_records([{"id": 1, "t": 0}]).with_watermark("t")
    joined = a.join(b, left_on="k", right_on="id", within=("-5m", "15m"), how="right",
                    suffix="_b")
    sent = p._plan_json([p._add(ms._plan.collect_sink_node(), [joined._node], [joined.schema])])
    node = next(n for n in json.loads(sent)["nodes"] if n["op"] == "join")
    assert (node["left_keys"], node["right_keys"], node["left_time_column"],
            node["right_time_column"]) == (["k"], ["id"], "ts", "t")
    assert (node["lower_ms"], node["upper_ms"], node["how"], node["suffix"],
            node["merge_keys"]) == (-5 * MINUTE, 15 * MINUTE, "right", "_b", False)
    written = _core.plan_round_trip(sent)
    assert json.loads(written) == json.loads(sent)
    assert joined.schema.names == ["k", "ts", "id", "t"]


def test_ab_join_example_runs(tmp_path):
    import os
    import re
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    alerts = tmp_path / "alerts.bulk.jsonl"
    result = subprocess.run([sys.executable, os.path.join(root, "examples", "ab_join.py"),
                             "--alerts", str(alerts)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    read, pairs, alert_count = map(int, re.match(
        r"read (\d+) events; (\d+) matched pairs to Kafka; (\d+) alerts", result.stdout).groups())
    # one B per order: every event is in exactly one pair or is one alert
    assert read == 2 * pairs + alert_count and pairs > 0 and alert_count > 0
    lines = alerts.read_text().splitlines()
    assert len(lines) == 2 * alert_count
    assert all('"index"' in action for action in lines[0::2])
    assert "max 15.0 min" in result.stdout or "max 14." in result.stdout


@pytest.mark.parametrize("state", ["memory", "rocksdb"])
def test_late_rows_go_to_the_late_output_of_their_side(state, parallelism):
    # Both sides in order but for some rows moved back past the delay: late by the watermark
    # (the minimum of both sides'), counted, joined with nothing, and each side's in its late().
    rng = random.Random(9)
    rows = make_events(3000, seed=9, key_space=2000)
    for r in rng.sample(rows, 60):
        r["ts"] -= 30 * MINUTE  # behind any watermark that has moved 30 minutes past it
    p = ms.Pipeline(parallelism=parallelism, state=state, batch_size=128)
    events = p.from_arrow(to_table(rows))
    a = events.filter(col("type") == "A").with_watermark("ts", max_delay=DELAY)
    b = events.filter(col("type") == "B").with_watermark("ts", max_delay=DELAY)
    joined = a.join(b, on="key", within="15m", how="outer")
    got, late_a, late_b = p.collect(joined, joined.late("left"), joined.late("right"))
    assert late_a.schema == a.schema and late_b.schema == b.schema
    assert set(late_a.column("type").to_pylist()) <= {"A"}
    assert set(late_b.column("type").to_pylist()) <= {"B"}
    late = {(r["key"], r["ts"], r["type"], r["val"]) for r in late_a.to_pylist() + late_b.to_pylist()}
    assert 0 < len(late) <= 60
    # the join is the reference over the rows that were not late
    on_time = [r for r in rows if (r["key"], r["ts"], r["type"], r["val"]) not in late]
    assert len(on_time) == len(rows) - len(late)
    assert rows_of(got, ["key"]) == reference(on_time, ["key"], -15 * MINUTE, 15 * MINUTE, "outer")
