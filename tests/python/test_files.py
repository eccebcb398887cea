"""File sources and sinks end to end: read_jsonl / read_csv / read_parquet, globs, write_*,
and bad input in each on_error mode, checked against pandas / pyarrow readers."""
import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import millstream as ms
from millstream import col

SCHEMA = {"id": ms.int64, "price": ms.float64, "name": ms.string, "ok": ms.bool_}


def write_lines(path, lines, newline="\n"):
    with open(path, "w", newline="") as f:
        for line in lines:
            f.write(line + newline)


def sample_frame(rows=3000, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(rows), "price": np.round(rng.uniform(0, 100, rows), 3),
                         "name": rng.choice(["ann", "bob", "çé", "d,quoted \"x\""], rows),
                         "ok": rng.random(rows) < 0.5})


@pytest.mark.parametrize("batch_size", [7, 65536])
def test_jsonl_matches_pandas(tmp_path, parallelism, batch_size):
    frame = sample_frame()
    path = tmp_path / "rows.jsonl"
    frame.to_json(path, orient="records", lines=True)
    p = ms.Pipeline(parallelism=parallelism, batch_size=batch_size)
    got = p.read_jsonl(str(path), schema=SCHEMA).filter(col("price") > 50).to_pandas()
    ref = frame[frame.price > 50].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)


def test_jsonl_schema_is_inferred(tmp_path):
    path = tmp_path / "rows.jsonl"
    write_lines(path, [json.dumps({"a": 1, "b": 1.5, "c": "x", "d": True}), json.dumps({"a": 2, "b": 2, "c": None, "d": False})])
    s = ms.Pipeline(parallelism=1).read_jsonl(str(path))
    assert s.schema == pa.schema([("a", pa.int64()), ("b", pa.float64()), ("c", pa.string()), ("d", pa.bool_())])
    assert s.collect().column("b").to_pylist() == [1.5, 2.0]


@pytest.mark.parametrize("batch_size", [5, 65536])
def test_csv_matches_pandas(tmp_path, parallelism, batch_size):
    frame = sample_frame()
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    p = ms.Pipeline(parallelism=parallelism, batch_size=batch_size)
    got = p.read_csv(str(path), schema=SCHEMA).to_pandas()
    pd.testing.assert_frame_equal(got, frame, check_dtype=False)


def test_globs_read_every_file(tmp_path, parallelism):
    for index in range(3):
        sample_frame(100, seed=index).assign(id=lambda d: d.id + index * 100).to_json(
            tmp_path / f"part-{index}.jsonl", orient="records", lines=True)
    got = ms.Pipeline(parallelism=parallelism).read_jsonl(str(tmp_path / "part-*.jsonl"), schema=SCHEMA).to_pandas()
    assert sorted(got.id) == list(range(300))


def test_parquet_roundtrip(tmp_path, parallelism):
    frame = sample_frame(5000)
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=700)
    p = ms.Pipeline(parallelism=parallelism)
    out = tmp_path / "out.parquet"
    p.read_parquet(str(source)).filter(col("ok")).write_parquet(out)
    p.run()
    got = pq.read_table(out).to_pandas()
    ref = frame[frame.ok].reset_index(drop=True)
    pd.testing.assert_frame_equal(got.sort_values("id").reset_index(drop=True), ref, check_dtype=False)


def test_write_csv_and_jsonl_read_back(tmp_path):
    frame = sample_frame(500)
    p = ms.Pipeline(parallelism=2)
    s = p.from_pandas(frame)
    s.write_csv(tmp_path / "out.csv")
    s.write_jsonl(tmp_path / "out.jsonl")
    p.run()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out.csv").sort_values("id").reset_index(drop=True), frame, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_json(tmp_path / "out.jsonl", lines=True).sort_values("id").reset_index(drop=True), frame, check_dtype=False)


def test_failed_run_leaves_no_half_file(tmp_path):
    def fail_late(batch):
        if batch.num_rows and batch.column("id")[0].as_py() >= 2000:
            raise RuntimeError("stop here")
        return batch

    p = ms.Pipeline(parallelism=1, batch_size=100)
    p.from_pandas(sample_frame(5000)).map_batches(fail_late).write_parquet(tmp_path / "out.parquet")
    with pytest.raises(RuntimeError, match="stop here"):
        p.run()
    assert os.listdir(tmp_path) == []


def bad_jsonl(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [json.dumps({"id": i, "price": float(i), "name": "n", "ok": True}) for i in range(1, 31)]
    lines[16] = '{"id": 17, "price": "abc", "name": "n", "ok": true}'   # line 17
    lines[22] = '{"id": 23, "price": 1.0, "name": "n", "ok": tru'       # line 23: invalid JSON
    write_lines(path, lines)
    return path


def test_bad_input_raises_with_file_line_field(tmp_path):
    path = bad_jsonl(tmp_path)
    s = ms.Pipeline(parallelism=2).read_jsonl(str(path), schema=SCHEMA)
    with pytest.raises(ValueError) as error:
        s.collect()
    assert f"{path}:17: field 'price': expected float64, got \"abc\"" in str(error.value)


def test_bad_input_skip_counts(tmp_path):
    path = bad_jsonl(tmp_path)
    p = ms.Pipeline(parallelism=2)
    p.read_jsonl(str(path), schema=SCHEMA, on_error="skip").write_jsonl(tmp_path / "out.jsonl")
    result = p.run()
    assert result.rows_skipped == 2
    assert sum(1 for _ in open(tmp_path / "out.jsonl")) == 28


def test_bad_input_dead_letters(tmp_path):
    path = bad_jsonl(tmp_path)
    p = ms.Pipeline(parallelism=2)
    s = p.read_jsonl(str(path), schema=SCHEMA, on_error="dead_letter")
    rows, dead = p.collect(s, s.dead_letters())  # one run, both outputs
    dead = dead.to_pylist()
    assert [d["line"] for d in dead] == [17, 23]
    assert dead[0]["field"] == "price" and "expected float64" in dead[0]["reason"]
    assert dead[0]["raw"].startswith('{"id": 17') and dead[0]["source"] == str(path)
    assert "invalid JSON" in dead[1]["reason"]
    assert rows.num_rows == 28


def test_csv_wrong_field_count(tmp_path):
    path = tmp_path / "data.csv"
    write_lines(path, ["id,price,name,ok", "1,2.0,a,true", "2,3.0,b,false", "3,4.0,c", "4,5.0,d,true"], newline="\r\n")
    with pytest.raises(ValueError, match=r"data.csv:4: expected 4 fields, got 3"):
        ms.Pipeline(parallelism=1).read_csv(str(path), schema=SCHEMA).collect()
    got = ms.Pipeline(parallelism=1).read_csv(str(path), schema=SCHEMA, on_error="skip").collect()
    assert got.column("id").to_pylist() == [1, 2, 4]


def test_required_field(tmp_path):
    path = tmp_path / "r.jsonl"
    write_lines(path, ['{"id": 1, "name": "a"}', '{"name": "b"}'])
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])
    with pytest.raises(ValueError, match=r"r.jsonl:2: field 'id'"):
        ms.Pipeline(parallelism=1).read_jsonl(str(path), schema=schema).collect()


def test_bom_crlf_truncated_and_empty(tmp_path):
    path = tmp_path / "bom.csv"
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbfid,name\r\n1,a\r\n2,b")  # BOM, CRLF, no final newline
    got = ms.Pipeline(parallelism=1).read_csv(str(path), schema={"id": ms.int64, "name": ms.string}).collect()
    assert got.to_pylist() == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert ms.Pipeline(parallelism=2).read_jsonl(str(empty), schema=SCHEMA).collect().num_rows == 0


def test_invalid_utf8_names_the_field(tmp_path):
    path = tmp_path / "bad.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"id": 1, "name": "ok"}\n{"id": 2, "name": "\xff\xfe"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        ms.Pipeline(parallelism=1).read_jsonl(str(path), schema={"id": ms.int64, "name": ms.string}).collect()


def test_ten_megabyte_line(tmp_path):
    path = tmp_path / "big.jsonl"
    write_lines(path, [json.dumps({"id": 1, "name": "x" * 10_000_000}), json.dumps({"id": 2, "name": "y"})])
    got = ms.Pipeline(parallelism=2).read_jsonl(str(path), schema={"id": ms.int64, "name": ms.string}).collect()
    assert got.column("id").to_pylist() == [1, 2]
    assert len(got.column("name")[0].as_py()) == 10_000_000


def test_missing_file_is_reported_when_built(tmp_path):
    with pytest.raises(ValueError, match="nothing.jsonl"):
        ms.Pipeline(parallelism=1).read_jsonl(str(tmp_path / "nothing.jsonl"), schema=SCHEMA)
    with pytest.raises(ValueError, match=r"\*.csv"):
        ms.Pipeline(parallelism=1).read_csv(str(tmp_path / "*.csv"), schema=SCHEMA)
