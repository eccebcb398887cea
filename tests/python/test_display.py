"""How a pipeline shows itself (millstream/_explain.py, _progress.py): the plan as text and
HTML, the progress of a run on stderr and in a notebook, Ctrl-C during a displayed run, the
metrics as a DataFrame, and to_polars."""
import _thread
import os
import threading
import time

import nbformat
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet  # noqa: F401 (pa.parquet)
import pytest
from nbclient import NotebookClient

import millstream as ms
from millstream import col
from millstream.testing import assert_rows_equal, events

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def orders_file(tmp_path, rows=2_000):
    path = tmp_path / "orders.csv"
    path.write_text("shop,price,ts\n" + "".join(f"{'ns'[i % 2]},{i * 0.5},{i * 100}\n"
                                                 for i in range(rows)))
    return path


def test_explain_shows_each_operator_with_parallelism_columns_and_what_sources_read(tmp_path, capsys):
    path = orders_file(tmp_path)
    p = ms.Pipeline(parallelism=3)
    orders = p.read_csv(str(path))
    windows = (orders.filter(col("price") > 1).with_watermark("ts", max_delay="1s")
               .key_by("shop").window(ms.tumbling("10s")).agg(n=ms.count()))
    everything = orders.window(ms.tumbling("1m", time="processing")).agg(n=ms.count())
    windows.explain()
    text = capsys.readouterr().out
    assert text == repr(windows) + "\n"
    size = os.path.getsize(path)
    assert text.splitlines() == [
        "Stream of 4 columns, event time window_end (parallelism 3, state memory)",
        f"  #0 source: read_csv({path})",
        f"      [up to 3 splits] reads {path} (1 file, {size / 1024:.1f} KB)",
        "      -> shop: string, price: double, ts: int64",
        '  #1 filter: filter((col("price") > lit(1)))',
        "      [fused into its input]",
        "      -> shop: string, price: double, ts: int64",
        "  #2 watermark: with_watermark(ts, max_delay=1s)",
        "      [fused into its input]",
        "      -> shop: string, price: double, ts: int64",
        "  #3 window: window(tumbling, by shop)",
        "      [3 subtasks by shop]",
        "      -> shop: string, window_start: int64, window_end: int64, n: int64",
    ]
    assert "[1 subtask (one global key)]" in repr(everything)
    both = orders.union(events(p, [{"shop": "x", "price": 1.0, "ts": 5}]))
    text = repr(both)
    assert "reads 1 row in memory" in text and "[1 split]" in text
    assert "#6 union: union  <- #0, #5" in text
    assert repr(p).startswith("Pipeline: parallelism 3, state memory, 2 sources, 0 sinks declared")
    for node in ("#0 source", "#3 window", "#4 window", "#5 source", "#6 union"):
        assert node in repr(p)


def test_html_shows_the_same_graph_escaped():
    p = ms.Pipeline(parallelism=2)
    stream = p.from_records([{"a<b": 1}]).filter(col("a<b") < 3)
    page = stream._repr_html_()
    assert page.count("<b>#") == 2
    assert "a&lt;b: <i>int64</i>" in page and "(col(&quot;a&lt;b&quot;) &lt; lit(3))" in page
    assert "up to 2 splits" in page and "fused into its input" in page
    assert "<b>#0 source</b>" in p._repr_html_()


def test_a_run_with_progress_shows_rows_of_the_total_and_ends_with_its_status(tmp_path, capsys):
    p = ms.Pipeline(parallelism=2, batch_size=100)
    table = p.from_records([{"k": i % 3, "ts": i} for i in range(1_000)]) \
        .with_watermark("ts").key_by("k").window(ms.tumbling(10)).agg(n=ms.count()) \
        .collect(progress=True)
    assert table.num_rows == 300
    line = capsys.readouterr().err.split("\r")[-1]
    assert line.startswith("millstream: 100%|" + "\u2588" * 20 + "| 1.00k/1.00k rows [00:00, ")
    assert "watermark 1970-01-01T00:00:00.999" in line
    assert line.endswith(" entries (done)\n")


def test_a_file_source_counts_bytes_of_the_total(tmp_path, capsys):
    path = orders_file(tmp_path)
    p = ms.Pipeline(parallelism=2)
    p.read_csv(str(path)).filter(col("price") > 1).write_parquet(tmp_path / "out.parquet")
    p.run(progress=True)
    line = capsys.readouterr().err.split("\r")[-1]
    size = os.path.getsize(path)
    assert f"2.00k rows, {size / 1024:.1f} KB/{size / 1024:.1f} KB [00:00" in line, line


def test_no_progress_for_short_runs_or_when_off(capsys):
    p = ms.Pipeline(parallelism=2, progress=True)
    s = p.from_records([{"x": 1}])
    s.collect(progress=False)
    ms.Pipeline(parallelism=2).from_records([{"x": 1}]).collect()  # under a second, not a tty
    assert capsys.readouterr().err == ""
    s.collect()
    assert "(done)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="progress must be None"):
        s.collect(progress="yes")


@pytest.mark.parametrize("progress", [True, None])
def test_ctrl_c_during_a_displayed_run_stops_it_and_the_pipeline_stays_usable(progress, tmp_path):
    delay_s = [0.05]

    def slow(batch):
        time.sleep(delay_s[0])
        return batch

    p = ms.Pipeline(parallelism=2, batch_size=1000)
    p.from_arrow(pa.table({"x": np.arange(1_000_000, dtype=np.int64)})).map_batches(slow) \
        .write_parquet(tmp_path / "out.parquet")
    timer = threading.Timer(1.3, _thread.interrupt_main)  # after the automatic display started
    timer.start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        p.run(progress=progress)
    # The whole run takes ~25 s; the bound leaves room for a machine busy with builds.
    assert time.perf_counter() - started < 1.3 + 3.0
    timer.join()
    assert not (tmp_path / "out.parquet").exists()
    # The declared sink is still there: the pipeline runs again, to the end.
    delay_s[0] = 0
    p.run(progress=progress)
    assert pa.parquet.read_table(tmp_path / "out.parquet").num_rows == 1_000_000


def test_metrics_frame_is_the_metrics_as_a_data_frame():
    p = ms.Pipeline(parallelism=2)
    p.from_records([{"x": i} for i in range(10)]).filter(col("x") > 4) \
        .for_each_batch(lambda batch: None)
    job = p.start()
    assert job.wait(timeout=30)
    frame = job.metrics_frame()
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict("records") == job.metrics()
    assert list(frame["operator"]) == ["from_records", 'filter((col("x") > lit(4)))',
                                       "for_each_batch(<lambda>)"]
    assert list(frame["rows_out"])[:2] == [10, 5] and frame["rows_in"].iloc[2] == 5


def test_to_polars_has_the_rows_of_to_pandas():
    p = ms.Pipeline(parallelism=2)
    stream = p.from_records([{"k": "ab"[i % 2], "x": i * 0.5} for i in range(100)]) \
        .key_by("k").agg(total=ms.sum("x"))
    frame = stream.to_polars()
    assert isinstance(frame, pl.DataFrame)
    assert_rows_equal(frame, stream.to_pandas())


def test_the_notebook_shows_the_plan_the_progress_and_the_metrics(tmp_path):
    notebook = nbformat.read(os.path.join(ROOT, "notebooks", "quickstart.ipynb"), as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {"".join(cell.source).splitlines()[-1]: cell.outputs
               for cell in notebook.cells if cell.cell_type == "code"}
    plan_html = outputs["orders"][0]["data"]["text/html"]
    assert "<b>#0 source</b>" in plan_html and "orders.jsonl (1 file," in plan_html
    explained = outputs["big.explain()"][0]["text"]
    assert "#0 source: read_jsonl(orders.jsonl)" in explained and "#2 project" in explained
    progress = [o for o in outputs['daily.sort("window_start", "shop").head()']
                if o["output_type"] == "display_data"]
    assert len(progress) == 1
    shown = progress[0]["data"]["text/html"]
    size = os.path.getsize(tmp_path / "orders.jsonl") / 1024 ** 2
    assert "data-state='done'" in shown and "100%" in shown
    assert f"50.00k rows, {size:.1f} MB/{size:.1f} MB [00:0" in shown  # a file: bytes of the total
    assert "watermark 2023-11-15T" in shown
    frame = outputs['job.metrics_frame()[["operator", "rows_in", "rows_out", "bytes_read"]]']
    assert "read_jsonl(orders.jsonl)" in frame[0]["data"]["text/html"]


def test_every_operator_the_plan_builder_makes_has_a_display():
    import re
    from millstream import _explain
    with open(os.path.join(ROOT, "python", "millstream", "_plan.py")) as f:
        ops = set(re.findall(r'Node\("([a-z_]+)"', f.read()))
    assert ops and ops <= set(_explain._KIND), ops - set(_explain._KIND)


def test_a_join_shows_its_keys_and_subtasks():
    p = ms.Pipeline(parallelism=2)
    a = p.from_records([{"k": 1, "ts": 0}]).with_watermark("ts")
    b = p.from_records([{"key": 1, "ts": 5, "v": "x"}]).with_watermark("ts")
    joined = a.join(b, left_on="k", right_on="key", within="1m", how="outer")
    text = repr(joined)
    assert "interval join: " in text and "[2 subtasks by k = key]" in text, text
    assert "interval join</b>" in joined._repr_html_()
