"""key_by(...).agg(emit="final"): one row per key with its values over the whole bounded input,
checked against pandas' groupby on random out-of-order input with nulls, over parallelism,
state backend and batch size."""
import random

import pandas as pd
import pytest

import millstream as ms
from millstream.testing import assert_rows_equal, events, watermark


def random_rows(seed, rows=3_000, keys=300):
    rng = random.Random(seed)
    return [{"k": f"k{rng.randrange(keys)}", "g": rng.randrange(3),
             "x": None if rng.random() < 0.1 else rng.randint(-50, 50),
             "y": rng.random(), "ts": rng.randrange(100_000)} for _ in range(rows)]


def pandas_reference(rows):
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["k", "g"])
    out = pd.DataFrame({"n": grouped.size(), "total": grouped["x"].sum(min_count=1),
                        "lo": grouped["x"].min(), "hi": grouped["y"].max(),
                        "avg": grouped["y"].mean(), "users": grouped["x"].nunique()}).reset_index()
    records = out.to_dict("records")
    for record in records:
        for name in ("total", "lo"):
            record[name] = None if pd.isna(record[name]) else int(record[name])
    return records


@pytest.mark.parametrize("state", ["memory", "rocksdb"])
@pytest.mark.parametrize("batch_size", [97, None])
def test_final_values_per_key_match_pandas(parallelism, state, batch_size, tmp_path):
    rows = random_rows(parallelism)
    p = ms.Pipeline(parallelism=parallelism, state=state, batch_size=batch_size,
                    state_dir=str(tmp_path / "state") if state == "rocksdb" else None,
                    state_memory="1MB" if state == "rocksdb" else None)
    final = p.from_records(rows).with_watermark("ts", max_delay="1s").key_by("k", "g").agg(
        emit="final", n=ms.count(), total=ms.sum("x"), lo=ms.min("x"), hi=ms.max("y"),
        avg=ms.mean("y"), users=ms.count_distinct("x"))
    table = final.collect()
    assert table.schema.names == ["k", "g", "n", "total", "lo", "hi", "avg", "users"]
    assert_rows_equal(table, pandas_reference(rows))
    # The changelog's last row per key holds the same values.
    changelog = p.from_records(rows).key_by("k", "g").agg(n=ms.count(), total=ms.sum("x"))
    last = {}
    for row in changelog.collect().to_pylist():
        last[(row["k"], row["g"])] = row
    assert_rows_equal(list(last.values()), final.select("k", "g", "n", "total"))


def test_late_rows_and_given_watermarks_do_not_matter_to_a_final_aggregate():
    p = ms.Pipeline(parallelism=2)
    stream = events(p, [{"k": "a", "ts": 5_000}, watermark(60_000), {"k": "a", "ts": 1}],
                    time_column="ts")
    assert stream.key_by("k").agg(emit="final", n=ms.count()).collect().to_pylist() == \
        [{"k": "a", "n": 2}]


def test_emit_errors():
    keyed = ms.Pipeline(parallelism=1).from_records([{"k": 1, "x": 2}]).key_by("k")
    with pytest.raises(ValueError, match=r"emit must be 'changelog' .* or 'final'"):
        keyed.agg(emit="updates", n=ms.count())
    with pytest.raises(ValueError, match=r"first and last are not supported with emit='final'"):
        keyed.agg(emit="final", x=ms.last("x"))
