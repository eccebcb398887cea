"""Timestamps without traps and inputs as they come: ISO-8601 text inferred as timestamps by the
file readers (``Z`` and offsets as UTC instants), integers refused by a timestamp declared
without a unit, with_watermark on text naming the fix, comparisons with ISO text, compound
durations, pandas Series and polars frames, and window bounds typed like the event time."""
import datetime
import json

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import millstream as ms
from millstream import col
from millstream.testing import assert_rows_equal

UTC = datetime.timezone.utc
ROWS = [  # the same instants written three ways
    {"k": "a", "ts": "2026-12-01T08:00:00Z", "x": 1},
    {"k": "a", "ts": "2026-12-01T09:30:00+01:00", "x": 2},     # 08:30 UTC
    {"k": "b", "ts": "2026-12-01T07:45:00.250-01:00", "x": 3},  # 08:45:00.250 UTC
]
INSTANTS = [datetime.datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
            datetime.datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
            datetime.datetime(2026, 12, 1, 8, 45, 0, 250_000, tzinfo=UTC)]


def write(tmp_path, kind, rows, name="in"):
    path = tmp_path / f"{name}.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        path.write_text(",".join(rows[0]) + "\n" +
                        "".join(",".join(str(v) for v in r.values()) + "\n" for r in rows))
    return path


def read(p, kind, path, **options):
    return (p.read_jsonl if kind == "jsonl" else p.read_csv)(str(path), **options)


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_iso_text_is_inferred_as_utc_timestamps(tmp_path, kind):
    p = ms.Pipeline(parallelism=2)
    stream = read(p, kind, write(tmp_path, kind, ROWS))
    assert stream.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert stream.collect().column("ts").to_pylist() == INSTANTS


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_what_is_not_inferred_as_a_timestamp(tmp_path, kind):
    rows = [{"naive": "2026-12-01 08:00:00", "date": "2026-12-01", "mixed": "2026-12-01T08:00:00",
             "word": "2026-12-01T08:00:00"},
            {"naive": "2026-12-01T08:00:01.5", "date": "2026-12-02", "mixed": "2026-12-01T08:00:00Z",
             "word": "soon"}]
    schema = read(ms.Pipeline(parallelism=1), kind, write(tmp_path, kind, rows)).schema
    assert schema.field("naive").type == pa.timestamp("us")          # no zone: naive
    assert schema.field("date").type == pa.string()                   # a bare date stays text
    assert schema.field("mixed").type == pa.timestamp("us", tz="UTC")  # a zone anywhere: UTC
    assert schema.field("word").type == pa.string()


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_an_integer_for_a_timestamp_without_unit_is_an_error_naming_the_fix(tmp_path, kind):
    path = write(tmp_path, kind, [{"k": "a", "t": 1_700_000_000_000}])
    p = ms.Pipeline(parallelism=1)
    with pytest.raises(ValueError, match=r"in\.\w+:\d+: field 't': an integer for a timestamp "
                                         r"declared without a unit \(ms\.timestamp\): declare "
                                         r"ms\.timestamp\(\"ms\"\) for epoch milliseconds"):
        read(p, kind, path, schema={"k": ms.string, "t": ms.timestamp}).collect()
    got = read(p, kind, path, schema={"k": ms.string, "t": ms.timestamp("ms")}).collect()
    assert got.column("t").to_pylist() == [datetime.datetime(2023, 11, 14, 22, 13, 20)]
    assert got.schema.field("t").metadata is None
    # ISO text still reads into the bare type.
    text = write(tmp_path, kind, [{"k": "a", "t": "2026-12-01T08:00:00Z"}], name="text")
    got = read(p, kind, text, schema={"k": ms.string, "t": ms.timestamp}).collect()
    assert got.column("t").to_pylist() == [datetime.datetime(2026, 12, 1, 8, 0)]
    skipped = read(p, kind, path, schema={"k": ms.string, "t": ms.timestamp}, on_error="skip")
    assert skipped.collect().num_rows == 0


def test_with_watermark_on_text_names_the_fix():
    p = ms.Pipeline(parallelism=1)
    stream = p.from_records([{"ts": r["ts"]} for r in ROWS])
    with pytest.raises(TypeError, match=r"column 'ts' holds text, not a time; parse it first: "
                                        r"\.with_columns\(ts=ms\.col\('ts'\)\.cast\("):
        stream.with_watermark("ts")
    fixed = stream.with_columns(ts=col("ts").cast(ms.timestamp("us", tz="UTC")))
    windows = fixed.with_watermark("ts").window(ms.tumbling("30m")).agg(n=ms.count()).collect()
    assert windows.column("n").to_pylist() == [1, 2]


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_comparisons_with_iso_text_compare_instants(tmp_path, kind, parallelism):
    p = ms.Pipeline(parallelism=parallelism)
    stream = read(p, kind, write(tmp_path, kind, ROWS))
    cases = [(col("ts") > "2026-12-01T08:30:00Z", [3]),
             (col("ts") >= "2026-12-01T09:30:00+01:00", [2, 3]),
             ("2026-12-01T08:10" > col("ts"), [1]),          # no offset: UTC
             (col("ts") == "2026-12-01T08:45:00.25Z", [3]),
             (col("ts") > "2026-12-01", [1, 2, 3]),
             (col("ts") < "2026-12-01", [])]
    for predicate, xs in cases:
        assert sorted(stream.filter(predicate).collect().column("x").to_pylist()) == xs, predicate
    flagged = stream.with_columns(late=col("ts") > "2026-12-01T08:40:00Z").collect()
    assert dict(zip(flagged.column("x").to_pylist(), flagged.column("late").to_pylist())) == \
        {1: False, 2: False, 3: True}
    with pytest.raises(ValueError, match="cannot read 'noon' as a time"):
        stream.filter(col("ts") > "noon")


def test_text_compared_with_text_stays_text():
    p = ms.Pipeline(parallelism=1)
    stream = p.from_records([{"s": "2026-12-02"}, {"s": "2026-11-30"}])
    assert stream.filter(col("s") > "2026-12-01").collect().column("s").to_pylist() == ["2026-12-02"]


def test_compound_durations():
    assert ms.tumbling("1h30m").size_ms == 5_400_000
    assert ms.sliding("1m30s", every="45s").size_ms == 90_000
    assert ms.session("1d 12h").gap_ms == 129_600_000
    with pytest.raises(ValueError, match=r"cannot read duration '1h30'"):
        ms.tumbling("1h30")
    p = ms.Pipeline(parallelism=2)
    rows = [{"k": 1, "ts": t * 60_000} for t in range(0, 200, 7)]
    got = p.from_records(rows).with_watermark("ts", max_delay="1m30s").key_by("k") \
        .window(ms.tumbling("1h30m")).agg(n=ms.count()).collect()
    assert got.column("n").to_pylist() == [sum(1 for r in rows if r["ts"] // 5_400_000 == w)
                                           for w in range(3)]


def test_pandas_series_and_polars_frames():
    p = ms.Pipeline(parallelism=2)
    series = pd.Series([3, 1, 2], name="x")
    assert sorted(p.from_pandas(series).collect().column("x").to_pylist()) == [1, 2, 3]
    assert p.from_pandas(pd.Series([1.5])).schema.names == ["value"]
    frame = pl.DataFrame({"k": ["a", "b"], "x": [1, 2]})
    with pytest.raises(TypeError, match=r"polars DataFrame; pass it to p\.from_arrow\(df\)"):
        p.from_pandas(frame)
    assert_rows_equal(p.from_arrow(frame), frame)
    with pytest.raises(TypeError, match=r"expected a pandas DataFrame or Series, got list"):
        p.from_pandas([{"x": 1}])


def test_window_bounds_have_the_event_times_type():
    p = ms.Pipeline(parallelism=2)
    timed = p.from_records([{"k": 1, "ts": t} for t in INSTANTS])
    got = timed.with_watermark("ts").key_by("k").window(ms.tumbling("1h")).agg(n=ms.count()).collect()
    assert got.schema.field("window_start").type == pa.timestamp("us", tz="UTC")
    assert got.column("window_end").to_pylist() == [datetime.datetime(2026, 12, 1, 9, tzinfo=UTC)]
    epoch_ms = p.from_records([{"k": 1, "ts": 1_000}]).with_watermark("ts").key_by("k") \
        .window(ms.tumbling("1s")).agg(n=ms.count())
    assert epoch_ms.schema.field("window_start").type == pa.int64()
    as_time = epoch_ms.with_columns(window_start=ms.from_epoch(col("window_start"))).collect()
    assert as_time.column("window_start").to_pylist() == [datetime.datetime(1970, 1, 1, 0, 0, 1)]
