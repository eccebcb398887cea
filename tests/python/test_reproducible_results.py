"""The same pipeline gives the same result, bit for bit, in every run and at every parallelism
(DESIGN.md; issue 20 "Reproducible results"): float sums and means do not depend on the order
rows arrive in (ExactFloatSum), and collect(ordered=True) gives keyed results a defined order.
Checked against math.fsum (the correctly rounded exact sum), on out-of-order input whose plain
double sums do depend on the order."""
import math
import random
from collections import defaultdict

import pyarrow as pa
import pytest

import millstream as ms

WINDOW_MS = 1_000


def make_input(rows: int = 40_000, keys: int = 300, seed: int = 5) -> pa.Table:
    # Values k * 2^-20 with |k| < 2^52: magnitudes over 12 orders, both signs, so that a plain
    # double sum rounds differently in different orders; all within 60 bits of the largest,
    # where the sum is exact before its one rounding (math.fsum's result).
    rng = random.Random(seed)
    key = [rng.randrange(keys) for _ in range(rows)]
    value = [math.ldexp(rng.randrange(-(1 << rng.randrange(1, 52)), 1 << 52), -20) for _ in range(rows)]
    ts = [i * 5 + rng.randrange(-400, 400) for i in range(rows)]   # out of order within 400 ms
    value[7] = None
    return pa.table({"key": pa.array(key, pa.int64()), "value": pa.array(value, pa.float64()),
                     "ts": pa.array(ts, pa.int64())})


def windowed(p: ms.Pipeline, table: pa.Table) -> pa.Table:
    return (p.from_arrow(table).with_watermark("ts", max_delay="1s").key_by("key")
            .window(ms.tumbling(WINDOW_MS)).agg(n=ms.count("value"), total=ms.sum("value"),
                                                avg=ms.mean("value"))
            .collect(ordered=True))


def running_finals(p: ms.Pipeline, table: pa.Table) -> dict:
    # A changelog: an update per key per batch, so which intermediate sums appear depends on the
    # batches; the final one per key (the most rows) does not.
    changes = p.from_arrow(table).key_by("key").agg(n=ms.count(), total=ms.sum("value")).collect()
    finals = {}
    for key, n, total in zip(*(changes[c].to_pylist() for c in ("key", "n", "total"))):
        if key not in finals or n > finals[key][0]:
            finals[key] = (n, total)
    return {key: total for key, (n, total) in finals.items()}


def reference_windows(table: pa.Table) -> dict:
    groups = defaultdict(list)
    for key, value, ts in zip(*(table[c].to_pylist() for c in ("key", "value", "ts"))):
        groups[(key, ts // WINDOW_MS * WINDOW_MS)].append(value)
    out = {}
    for (key, start), values in groups.items():
        present = [v for v in values if v is not None]
        total = math.fsum(present) if present else None
        out[(key, start)] = (len(present), total, total / len(present) if present else None)
    return out


def pipelines():
    for parallelism in (1, 2, 2, 4, 4):
        for state in ("memory", "rocksdb"):
            # rocksdb with a small budget: the window state goes to the backend and back.
            extra = {"state_memory": "1MB"} if state == "rocksdb" else {}
            yield f"P={parallelism} {state}", ms.Pipeline(parallelism=parallelism, state=state,
                                                          batch_size=1024, **extra)


def test_window_sums_and_means_are_the_same_bits_in_every_run_and_match_fsum():
    table = make_input()
    results = {name: windowed(p, table) for name, p in pipelines()}
    first_name, first = next(iter(results.items()))
    for name, result in results.items():
        assert result.equals(first), f"{name} differs from {first_name}"
    reference = reference_windows(table)
    got = {(k, s): (n, t, a) for k, s, n, t, a in zip(*(first[c].to_pylist() for c in
                                                       ("key", "window_start", "n", "total", "avg")))}
    assert len(got) == len(reference)
    mismatches = [(key, got[key], expected) for key, expected in reference.items() if got[key] != expected]
    assert not mismatches, mismatches[:5]


def test_plain_double_sums_of_this_input_depend_on_the_order():
    # The input is such that the test above can fail: summing in another order changes bits.
    table = make_input()
    values = [v for v in table["value"].to_pylist() if v is not None]
    shuffled = values[:]
    random.Random(1).shuffle(shuffled)
    assert sum(values) != sum(shuffled) or math.fsum(values) != sum(values)


def test_running_sums_are_the_same_bits_in_every_run_and_match_fsum():
    table = make_input()
    results = {name: running_finals(p, table) for name, p in pipelines()}
    per_key = defaultdict(list)
    for key, value in zip(table["key"].to_pylist(), table["value"].to_pylist()):
        if value is not None:
            per_key[key].append(value)
    expected = {key: math.fsum(values) for key, values in per_key.items()}
    for name, finals in results.items():
        assert finals == expected, name


def test_ordered_must_be_a_bool():
    s = ms.Pipeline(parallelism=1).from_records([{"x": 1}])
    with pytest.raises(ValueError, match="ordered must be True or False"):
        s.collect(ordered="yes")
