"""The plan format between Python and the engine: every operator kind survives a round trip
through the C++ parser and writer, and a malformed plan raises ``millstream.PlanError`` (a
ValueError) naming the node and the field, never a bare RuntimeError."""
import json

import pyarrow as pa
import pytest

import millstream as ms
from millstream import _core, _plan

ALL_OPS = {"source", "filter", "project", "map_batches", "union", "watermark", "window",
           "running_agg", "port", "sink"}


def _every_operator_pipeline(tmp_path, parallelism=2, state="memory"):
    """A pipeline with each operator kind and each sink kind; returns it and its sinks."""
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("k,x,ts\na,1,1000\nb,oops,2000\n")
    p = ms.Pipeline(parallelism=parallelism, state=state,
                    state_dir=str(tmp_path / "state") if state == "rocksdb" else None)
    records = p.from_records([{"k": "a", "x": 1, "ts": 5}, {"k": "b", "x": 2, "ts": 7}])
    from_csv = p.read_csv(str(csv_path), schema={"k": ms.string, "x": ms.int64, "ts": ms.int64},
                          on_error="dead_letter")
    both = records.union(from_csv)
    shaped = (both.filter(ms.col("x") > 0)
              .with_columns(y=ms.col("x") * 0.5, note=ms.lit('quote " and \\ backslash'))
              .map_batches(lambda batch: batch, schema={"k": ms.string, "x": ms.int64,
                                                        "ts": ms.int64, "y": ms.float64,
                                                        "note": ms.string}))
    timed = shaped.with_watermark("ts", max_delay="2s", idle_timeout="1m")
    windowed = timed.key_by("k").window(ms.sliding("10s", every="5s"), allowed_lateness="1s")
    windows = windowed.agg(n=ms.count(), total=ms.sum("x"), hi=ms.max("y"))
    sessions = timed.window(ms.session("3s")).agg(n=ms.count())
    processing = shaped.window(ms.tumbling("1s", time="processing")).agg(n=ms.count("x"))
    running = shaped.key_by("k").agg(total=ms.sum("x"), mean=ms.mean("y"))
    seen = []
    running.for_each_batch(seen.append)
    windows.write_csv(tmp_path / "windows.csv")
    sessions.write_jsonl(tmp_path / "sessions.jsonl")
    processing.write_parquet(tmp_path / "processing.parquet")
    collect_sinks = [p._add(_plan.collect_sink_node(), [s._node], [s.schema])
                     for s in (windowed.late(), from_csv.dead_letters())]
    return p, collect_sinks + list(p._pending_sinks)


@pytest.mark.parametrize("parallelism,state", [(1, "memory"), (4, "rocksdb")])
def test_every_operator_kind_survives_the_round_trip(tmp_path, parallelism, state):
    p, sinks = _every_operator_pipeline(tmp_path, parallelism, state)
    sent = p._plan_json(sinks)
    document = json.loads(sent)
    assert document["version"] == _plan.FORMAT_VERSION
    assert {node["op"] for node in document["nodes"]} == ALL_OPS
    assert {node["sink"] for node in document["nodes"] if node["op"] == "sink"} == \
        {"collect", "callback", "csv", "jsonl", "parquet"}
    assert {node["window"]["kind"] for node in document["nodes"] if node["op"] == "window"} == \
        {"sliding", "session", "tumbling"}
    written = _core.plan_round_trip(sent)
    assert json.loads(written) == document
    assert _core.plan_round_trip(written) == written  # the writer's form is a fixed point


def test_the_round_tripped_plan_runs_like_the_sent_one(tmp_path):
    records = [{"k": "ab"[i % 2], "x": i, "ts": (i * 7919) % 5000} for i in range(400)]
    p = ms.Pipeline(parallelism=2)
    stream = (p.from_records(records).filter(ms.col("x") % 3 != 0).with_watermark("ts", "5s")
              .key_by("k").window(ms.tumbling("1s")).agg(n=ms.count(), total=ms.sum("x")))
    sink = p._add(_plan.collect_sink_node(), [stream._node], [stream.schema])
    plan = _core.plan_round_trip(p._plan_json([sink]))
    job = ms.Job(_core.Job(plan, p._sources, p._functions, p._sink_callbacks))
    job.wait()
    got = sorted(job.table(sink).to_pylist(), key=lambda r: (r["k"], r["window_start"]))
    expected = {}
    for r in records:
        if r["x"] % 3 != 0:
            entry = expected.setdefault((r["k"], r["ts"] // 1000 * 1000), [0, 0])
            entry[0] += 1
            entry[1] += r["x"]
    assert got == [{"k": k, "window_start": start, "window_end": start + 1000, "n": n, "total": t}
                   for (k, start), (n, t) in sorted(expected.items())]


def _plan_of_one_source_and_collect(tmp_path):
    p = ms.Pipeline(parallelism=1)
    stream = p.from_records([{"x": 1}])
    sink = p._add(_plan.collect_sink_node(), [stream._node], [stream.schema])
    return p, json.loads(p._plan_json([sink]))


def _run_plan(p, document):
    return _core.Job(json.dumps(document), p._sources, p._functions, p._sink_callbacks)


@pytest.mark.parametrize("change,fragment", [
    (lambda d: d["nodes"][1].update(op="teleport"),
     "plan node 1 (op 'teleport', label 'collect'): field 'op' is 'teleport'"),
    (lambda d: d["nodes"][1].update(colour="red"),
     "plan node 1 (op 'sink', label 'collect'): field 'colour' is not a field"),
    (lambda d: d["nodes"][0].update(handle="0"),
     "plan node 0 (op 'source', label 'from_records'): field 'handle' is a string, expected an integer"),
    (lambda d: d["nodes"][1].pop("sink"),
     "plan node 1 (op 'sink', label 'collect'): field 'sink' is missing"),
    (lambda d: d.update(version=99), "plan format version 99; this millstream reads version 1"),
    (lambda d: d.pop("version"), "has no field 'version'"),
    (lambda d: d["nodes"][0].update(handle=5),
     "plan node 0 (op 'source', label 'from_records'): field 'handle' is 5, but the run was given 1 sources"),
])
def test_a_malformed_plan_raises_plan_error_naming_node_and_field(tmp_path, change, fragment):
    p, document = _plan_of_one_source_and_collect(tmp_path)
    change(document)
    with pytest.raises(ms.PlanError) as raised:
        _run_plan(p, document)
    assert fragment in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_malformed_node_document_raises_plan_error_while_the_pipeline_is_built():
    schema = pa.schema([("ts", pa.int64())])
    node = _plan.watermark_node("ts", 0, None, "with_watermark(ts)").to_dict(1, [0])
    node["max_delay_ms"] = 1.5
    with pytest.raises(ms.PlanError, match=r"plan node 1 \(op 'watermark', label "
                                           r"'with_watermark\(ts\)'\): field 'max_delay_ms' is a float"):
        _core.resolve(_plan.node_document_json(node), [schema.__arrow_c_schema__()])
    with pytest.raises(ms.PlanError, match="plan format version 7"):
        _core.resolve(json.dumps({"version": 7, "node": node}), [schema.__arrow_c_schema__()])
    with pytest.raises(ms.PlanError, match="is not valid JSON"):
        _core.resolve("{", [schema.__arrow_c_schema__()])


def test_user_errors_of_a_well_formed_plan_keep_their_types():
    s = ms.Pipeline(parallelism=1).from_records([{"x": 1}])
    with pytest.raises(ValueError, match="unknown column 'nope'") as raised:
        s.with_watermark("nope")
    assert not isinstance(raised.value, ms.PlanError)
