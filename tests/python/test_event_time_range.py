"""Event times and durations at the edges of what the engine represents (within +-2**61 ms of
1970; durations up to 2**61 ms): a time beyond is a clear error naming the column and row, never
an overflow, a hang or a lost row. Each case runs in a subprocess with a time limit, so that a
hang fails the test instead of the test run."""
import subprocess
import sys
import textwrap

import pytest

LIMIT_MS = 2**61 - 1
TIMEOUT_S = 120


def run_case(code: str) -> subprocess.CompletedProcess:
    program = "import millstream as ms, pyarrow as pa\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def expect_ok(code: str) -> str:
    result = run_case(code)
    assert result.returncode == 0, result.stderr
    return result.stdout


def expect_error(code: str, *fragments: str) -> str:
    result = run_case(code)
    assert result.returncode != 0, result.stdout
    assert "Traceback" in result.stderr and "internal error" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize("ts", [2**63 - 1, -(2**63), LIMIT_MS + 1, -(LIMIT_MS + 1)])
def test_int64_sentinel_times_are_errors_naming_the_column_and_row(ts):
    expect_error(f"""
        table = pa.table({{"key": [1, 1, 1], "ts": [1_000, 2_000, {ts}]}})
        p = ms.Pipeline(parallelism=1)
        p.from_arrow(table).with_watermark("ts", max_delay="1s").key_by("key") \\
            .window(ms.tumbling("10s")).agg(n=ms.count()).collect()
    """, "'ts'", "row 2", str(ts))


@pytest.mark.parametrize("unit,value", [("s", 2**63 - 1), ("s", -(2**63)), ("s", 2**62)])
def test_timestamp_seconds_near_the_int64_limits_are_errors(unit, value):
    expect_error(f"""
        ts = pa.array([1, {value}], pa.int64()).cast(pa.timestamp("{unit}"))
        table = pa.table({{"key": [1, 1], "ts": ts}})
        p = ms.Pipeline(parallelism=1)
        p.from_arrow(table).with_watermark("ts", max_delay="1s").key_by("key") \\
            .window(ms.tumbling("10s")).agg(n=ms.count()).collect()
    """, "'ts'", "outside the times the engine represents")


def test_values_under_null_slots_do_not_count():
    # The value under the null slot is the int64 maximum in seconds: were it read, the watermark
    # would overflow (or be an error); nulls are filtered out after with_watermark.
    out = expect_ok("""
        import pyarrow.compute as pc
        values = pa.array([1, 2, 2**63 - 1, 3], pa.int64())
        validity = pa.array([True, True, False, True]).buffers()[1]
        ts = pa.Array.from_buffers(pa.timestamp("s"), 4, [validity, values.buffers()[1]], null_count=1)
        table = pa.table({"key": [1, 1, 1, 1], "ts": ts})
        p = ms.Pipeline(parallelism=1)
        got = (p.from_arrow(table).with_watermark("ts", max_delay="0s")
               .filter(ms.col("ts").is_not_null()).key_by("key")
               .window(ms.tumbling("10s")).agg(n=ms.count()).collect())
        print(got["n"].to_pylist())
    """)
    assert out.strip() == "[3]"


@pytest.mark.parametrize("window", ['ms.tumbling(2**62)', 'ms.sliding(2**62, 2**61)', 'ms.session(2**62)'])
def test_windows_beyond_the_duration_range_are_errors(window):
    expect_error(f"""
        table = pa.table({{"key": [1, 2], "ts": [0, 1_000]}})
        p = ms.Pipeline(parallelism=1)
        p.from_arrow(table).with_watermark("ts", max_delay="1s").key_by("key") \\
            .window({window}).agg(n=ms.count()).collect()
    """, "beyond the durations the engine represents")


def test_a_sliding_window_of_too_many_panes_is_an_error():
    expect_error("""
        table = pa.table({"key": [1], "ts": [0]})
        p = ms.Pipeline(parallelism=1)
        p.from_arrow(table).with_watermark("ts", max_delay="1s").key_by("key") \\
            .window(ms.sliding(2**61, 1)).agg(n=ms.count()).collect()
    """, "panes")


@pytest.mark.parametrize("window,expected", [
    # Largest window at the edge of the range: one window holds both rows; it fires at the end.
    ("ms.tumbling(2**61)", "[2]"),
    ("ms.sliding(2**61, 2**60)", "[2, 2]"),
    # A session whose end is the largest time plus the largest gap (2**62 - 1): not lost.
    ("ms.session(2**61)", "[2]"),
])
def test_windows_at_the_edge_of_the_range_keep_their_rows(window, expected):
    out = expect_ok(f"""
        table = pa.table({{"key": [1, 1], "ts": [{LIMIT_MS} - 5, {LIMIT_MS}]}})
        p = ms.Pipeline(parallelism=1)
        w = (p.from_arrow(table).with_watermark("ts", max_delay="1s").key_by("key").window({window}))
        got, late = p.collect(w.agg(n=ms.count()), w.late())
        print(sorted(got["n"].to_pylist()), late.num_rows)
    """)
    assert out.strip() == f"{expected} 0"


def test_rows_at_the_lowest_time_are_windowed_and_the_watermark_does_not_wrap():
    # Watermark = lowest time - max_delay must saturate, not wrap to a time far ahead (which
    # would make the next rows late).
    out = expect_ok(f"""
        table = pa.table({{"key": [1, 1, 1], "ts": [-{LIMIT_MS}, -{LIMIT_MS} + 1, -{LIMIT_MS} + 2]}})
        p = ms.Pipeline(parallelism=1, batch_size=1)
        w = (p.from_arrow(table).with_watermark("ts", max_delay=2**61).key_by("key")
             .window(ms.tumbling(1000)))
        got, late = p.collect(w.agg(n=ms.count()), w.late())
        print(got["n"].to_pylist(), late.num_rows)
    """)
    assert out.strip() == "[3] 0"
