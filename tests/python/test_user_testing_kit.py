"""A pytest module as a millstream user writes one with ``millstream.testing``: the pipeline
under test is a plain function from streams to streams; the tests feed it rows with the
watermarks placed between them, and compare its output with what the business rule says.

(The fixture ``ms_pipeline`` comes from the ``millstream.pytest_plugin`` that an installed
millstream registers; each test runs at parallelism 1, 2 and 4, with both state backends.)
"""
import millstream as ms
from millstream import col
from millstream.testing import assert_rows_equal, events, watermark


# ---- the user's pipeline code ---------------------------------------------------------------
def big_spenders(orders, threshold=100.0):
    """Per customer and minute: orders and revenue, for minutes above `threshold`."""
    return (orders
            .with_columns(revenue=col("price") * col("qty"))
            .key_by("customer")
            .window(ms.tumbling("1m"))
            .agg(orders=ms.count(), revenue=ms.sum("revenue"))
            .filter(col("revenue") > threshold))


def sessions(clicks):
    """Clicks per user session (a 30 s gap ends a session)."""
    return clicks.key_by("user").window(ms.session("30s")).agg(clicks=ms.count(),
                                                              last_page=ms.last("page"))


# ---- its tests ------------------------------------------------------------------------------
def test_minutes_above_the_threshold(ms_pipeline):
    orders = events(ms_pipeline, [
        {"customer": "ann", "price": 60.0, "qty": 1, "ts": 1_000},
        {"customer": "bob", "price": 20.0, "qty": 2, "ts": 5_000},
        {"customer": "ann", "price": 50.0, "qty": 1, "ts": 59_999},
        watermark(60_000),
        {"customer": "ann", "price": 500.0, "qty": 1, "ts": 61_000},
    ], time_column="ts")
    assert_rows_equal(big_spenders(orders), [
        {"customer": "ann", "window_start": 0, "window_end": 60_000, "orders": 2, "revenue": 110.0},
        {"customer": "ann", "window_start": 60_000, "window_end": 120_000, "orders": 1,
         "revenue": 500.0},
    ])


def test_an_order_after_its_minute_closed_is_late(ms_pipeline):
    orders = events(ms_pipeline, [
        {"customer": "ann", "price": 80.0, "qty": 1, "ts": 10_000},
        watermark(60_000),
        {"customer": "ann", "price": 80.0, "qty": 1, "ts": 20_000},  # its minute closed
    ], time_column="ts")
    windowed = orders.key_by("customer").window(ms.tumbling("1m"))
    totals, late = ms_pipeline.collect(windowed.agg(revenue=ms.sum("price")), windowed.late())
    assert_rows_equal(totals, [{"customer": "ann", "window_start": 0, "window_end": 60_000,
                                "revenue": 80.0}])
    assert_rows_equal(late, [{"customer": "ann", "price": 80.0, "qty": 1, "ts": 20_000}])


def test_sessions_close_at_the_gap(ms_pipeline):
    clicks = events(ms_pipeline, [
        {"user": "u1", "page": "home", "ts": 0},
        {"user": "u2", "page": "home", "ts": 1_000},
        {"user": "u1", "page": "cart", "ts": 20_000},
        watermark(45_000),   # u2's session [1 s, 31 s) fires here; u1's [0, 50 s) stays open
        {"user": "u1", "page": "home", "ts": 100_000},   # 80 s later: a new session
        {"user": "u1", "page": "help", "ts": 46_000},    # joins u1's open session
        {"user": "u2", "page": "pay", "ts": 25_000},     # u2's session fired: a new one
    ], time_column="ts")
    assert_rows_equal(sessions(clicks), [
        {"user": "u1", "window_start": 0, "window_end": 76_000, "clicks": 3, "last_page": "help"},
        {"user": "u1", "window_start": 100_000, "window_end": 130_000, "clicks": 1,
         "last_page": "home"},
        {"user": "u2", "window_start": 1_000, "window_end": 31_000, "clicks": 1,
         "last_page": "home"},
        {"user": "u2", "window_start": 25_000, "window_end": 55_000, "clicks": 1,
         "last_page": "pay"},
    ])


def test_running_totals_come_per_customer_in_order(ms_pipeline):
    orders = events(ms_pipeline, [{"customer": c, "qty": q} for c, q in
                                  [("ann", 1), ("bob", 5), ("ann", 2), ("ann", 3), ("bob", 1)]])
    totals = orders.key_by("customer").agg(qty=ms.sum("qty"))
    final = {}
    for row in totals.collect().to_pylist():
        final[row["customer"]] = row["qty"]  # a changelog: the last row of a key is its value
    assert final == {"ann": 6, "bob": 6}


def test_the_pipeline_reads_its_own_watermarks_from_plain_events(ms_pipeline):
    # Without time_column, events are a plain source for the pipeline's own with_watermark.
    orders = events(ms_pipeline, [
        {"customer": "ann", "price": 200.0, "qty": 1, "ts": 1_000},
        {"customer": "ann", "price": 200.0, "qty": 1, "ts": 70_000},
        {"customer": "ann", "price": 200.0, "qty": 1, "ts": 2_000},   # late by 68 s
    ])
    result = big_spenders(orders.with_watermark("ts", max_delay="10s"))
    assert_rows_equal(result, [
        {"customer": "ann", "window_start": 0, "window_end": 60_000, "orders": 1, "revenue": 200.0},
        {"customer": "ann", "window_start": 60_000, "window_end": 120_000, "orders": 1,
         "revenue": 200.0},
    ])
