"""Faults a long-running job meets (issue 20): files that change under a run, pipes, job
lifecycles across threads, handles that are dropped, interpreter exit. Each case runs in a
subprocess with a time limit, so that a crash (a signal) or a hang fails the test instead of
the test run."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_DIR = os.environ.get("MILLSTREAM_PYTHON_DIR") or os.path.join(ROOT, "python")

PRELUDE = """
import gc, json, os, sys, threading, time
sys.path.insert(0, {package_dir!r})
import numpy as np
import pyarrow as pa
import millstream as ms
from millstream import col

def print_error(run):
    # prints "ValueError: <message>" if run() raises one, else "no error"
    try:
        run()
        print("no error")
    except ValueError as error:
        print("ValueError:", error)
"""


def run_case(body: str, tmp_path, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    """Runs `body` in a fresh interpreter (cwd: tmp_path); a crash or hang fails the test."""
    script = tmp_path / "case.py"
    script.write_text(PRELUDE.format(package_dir=PACKAGE_DIR) + textwrap.dedent(body))
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the case hung (more than {timeout_s} s); output so far:\n"
                    f"{expired.stdout}\n{expired.stderr}")
    assert done.returncode >= 0, (f"the case died of signal {-done.returncode}:\n"
                                  f"{done.stdout}\n{done.stderr}")
    return done


def expect_ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert "FATAL" not in done.stderr, done.stderr
    return done.stdout


# ----- item 1: a file that shrinks under a run ---------------------------------------------------
@pytest.mark.parametrize("kind", ["jsonl", "csv"])
@pytest.mark.parametrize("when", ["before", "during"])
def test_a_file_truncated_before_or_during_a_run_is_an_error_naming_it(tmp_path, kind, when):
    # 24 MB: three blocks of ~8 MB, so that the run reads after the truncation.
    out = expect_ok(run_case(f"""
        rows = 600_000
        path = os.path.abspath("events.{kind}")
        with open(path, "w") as f:
            if "{kind}" == "csv":
                f.write("id,price,pad\\n")
                f.writelines(f"{{i}},{{i * 0.5}},{{'x' * 20}}\\n" for i in range(rows))
            else:
                f.writelines(f'{{{{"id": {{i}}, "price": {{i * 0.5}}}}}}\\n' for i in range(rows))
        p = ms.Pipeline(parallelism=2, batch_size=1000)
        source = p.read_{kind}(path)
        truncated = []
        def truncate(batch):
            if not truncated:
                os.truncate(path, 1000)
                truncated.append(True)
        if "{when}" == "before":
            os.truncate(path, 1000)
            source.for_each_batch(lambda batch: None)
        else:
            source.for_each_batch(truncate)
        try:
            p.run()
            print("no error")
        except ValueError as error:
            print("ValueError:", error)
    """, tmp_path))
    assert "ValueError:" in out and "events." + kind in out and "shrank to" in out, out


def test_rows_appended_after_declaration_are_not_read(tmp_path):
    out = expect_ok(run_case("""
        with open("a.jsonl", "w") as f:
            f.write('{"x": 1}\\n{"x": 2}\\n')
        p = ms.Pipeline(parallelism=1)
        s = p.read_jsonl("a.jsonl")
        with open("a.jsonl", "a") as f:
            f.write('{"x": 3}\\n')
        print(s.collect().column("x").to_pylist())
    """, tmp_path))
    assert out.strip() == "[1, 2]"


# ----- item 6: pipes and /proc files ---------------------------------------------------------------
def test_a_fifo_is_refused_by_name_and_a_proc_file_is_read(tmp_path):
    out = expect_ok(run_case("""
        os.mkfifo("events.jsonl")
        p = ms.Pipeline(parallelism=1)
        try:
            p.read_jsonl("events.jsonl")   # must not wait for a writer, nor read 0 rows
            print("no error")
        except ValueError as error:
            print("ValueError:", error)
        rows = p.read_csv("/proc/self/status", delimiter=":", header=False,
                          schema={"name": ms.string, "value": ms.string}, on_error="skip").collect()
        print("proc rows:", rows.num_rows, rows.column("name")[0].as_py())
    """, tmp_path))
    assert "ValueError:" in out and "events.jsonl': it is a pipe (FIFO)" in out, out
    proc_rows = int(out.split("proc rows:")[1].split()[0])
    assert proc_rows > 5 and "Name" in out, out


# ----- item 3: the job lifecycle across threads ------------------------------------------------------
SLOW_JOB = """
def slow(batch):
    time.sleep(0.02)
    return batch
p = ms.Pipeline(parallelism=2, batch_size=100)
seen = []
p.from_arrow(pa.table({"x": np.arange(200_000)})).map_batches(slow).for_each_batch(
    lambda b: seen.append(b.num_rows))
job = p.start()
"""


def test_stop_from_another_thread_while_threads_wait(tmp_path):
    out = expect_ok(run_case(SLOW_JOB + """
outcomes = []
def waiter():
    try:
        outcomes.append(job.wait())
    except ms.JobStopped:
        outcomes.append("stopped")
    except BaseException as error:
        outcomes.append(type(error).__name__)
waiters = [threading.Thread(target=waiter) for _ in range(3)]
for t in waiters:
    t.start()
time.sleep(0.3)
stopper = threading.Thread(target=job.stop)
stopper.start()
stopper.join(10)
for t in waiters:
    t.join(10)
print("alive:", any(t.is_alive() for t in waiters + [stopper]))
print("outcomes:", outcomes, job.status, job.done())
try:
    job.wait()
except ms.JobStopped:
    print("wait again: stopped")
""", tmp_path))
    assert "alive: False" in out, out
    assert "outcomes: ['stopped', 'stopped', 'stopped'] stopped True" in out, out
    assert "wait again: stopped" in out, out


def test_wait_after_stop_raises_stopped_not_true_nor_keyboard_interrupt(tmp_path):
    out = expect_ok(run_case(SLOW_JOB + """
job.stop()
for attempt in range(2):
    try:
        print("wait:", job.wait(timeout=5))
    except ms.JobStopped as error:
        print("JobStopped:", error)
job.stop()   # stopping an ended job changes nothing
print(job.status)
""", tmp_path))
    assert out.count("JobStopped:") == 2 and out.strip().endswith("stopped"), out


def test_a_failed_run_raises_its_error_in_every_wait(tmp_path):
    out = expect_ok(run_case("""
def broken(batch):
    raise RuntimeError("broken callback")
p = ms.Pipeline(parallelism=2)
p.from_records([{"x": 1}]).map_batches(broken, schema={"x": ms.int64}).for_each_batch(print)
job = p.start()
for attempt in range(2):
    try:
        job.wait(timeout=20)
    except RuntimeError as error:
        print("error:", "broken callback" in str(error))
print(job.status)
""", tmp_path))
    assert out.split() == ["error:", "True", "error:", "True", "failed"], out


# ----- item 7: a started job runs whatever happens to its handle -------------------------------------
def test_a_job_whose_handle_is_dropped_runs_to_its_end(tmp_path):
    out = expect_ok(run_case("""
p = ms.Pipeline(parallelism=2, batch_size=1000)
p.from_arrow(pa.table({"x": np.arange(100_000)})).write_csv("out.csv")
p.start()            # the handle is dropped at once
gc.collect()
deadline = time.time() + 30
while not os.path.exists("out.csv") and time.time() < deadline:
    time.sleep(0.05)
print("rows:", sum(1 for _ in open("out.csv")) - 1)
try:
    p.start()
except ValueError as error:
    print("second start:", error)
""", tmp_path))
    assert "rows: 100000" in out, out
    assert "second start: start(): every sink of this pipeline was already run" in out, out


# ----- item 4: interpreter exit while jobs run --------------------------------------------------------
def test_interpreter_exit_waits_for_a_job_with_a_python_callback(tmp_path):
    done = run_case("""
def slow(batch):
    time.sleep(0.01)
    return batch
p = ms.Pipeline(parallelism=2, batch_size=1000)
p.from_arrow(pa.table({"x": np.arange(50_000)})).map_batches(slow).write_jsonl("out.jsonl")
rows = []
p.from_arrow(pa.table({"x": np.arange(50_000)})).map_batches(slow).for_each_batch(
    lambda b: rows.append(b.num_rows))
job = p.start()
print("exiting")
""", tmp_path)
    expect_ok(done)
    with open(tmp_path / "out.jsonl") as f:
        assert sum(1 for _ in f) == 50_000
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]


def test_a_stopped_run_leaves_no_partial_file(tmp_path):
    expect_ok(run_case(SLOW_JOB.replace("for_each_batch(\n    lambda b: seen.append(b.num_rows))",
                                        'write_csv("out.csv")') + """
time.sleep(0.3)
job.stop()
print(job.status)
""", tmp_path))
    assert not os.path.exists(tmp_path / "out.csv")
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]


# ----- item 8: uint64 columns ----------------------------------------------------------------------
def test_uint64_columns_pass_through_exactly_and_computing_on_them_is_a_type_error(tmp_path):
    out = expect_ok(run_case("""
import pyarrow.parquet as pq
values = [1, 2**63, 2**64 - 1]
pq.write_table(pa.table({"u": pa.array(values, pa.uint64()), "k": [1, 2, 1]}), "u.parquet")
p = ms.Pipeline(parallelism=2)
s = p.read_parquet("u.parquet")
print("through:", s.select("u").collect().column("u").to_pylist() == values)
as_float = s.select(col("u").cast(ms.float64)).collect().column("u").to_pylist()
print("cast:", as_float == [float(v) for v in values])
for name, build in [("filter", lambda: s.filter(col("u") > 0)),
                    ("sum", lambda: s.key_by("k").agg(t=ms.sum("u"))),
                    ("max", lambda: s.window(ms.tumbling("1s")) if False else
                                    s.key_by("k").agg(t=ms.max("u")))]:
    try:
        build()
        print(name, "no error")
    except TypeError as error:
        print(name, "TypeError:", "column 'u' is uint64" in str(error))
""", tmp_path))
    assert "through: True" in out and "cast: True" in out, out
    for name in ("filter", "sum", "max"):
        assert f"{name} TypeError: True" in out, out


# ----- item 11: metrics of side outputs --------------------------------------------------------------
def test_side_outputs_count_their_rows_in_the_metrics(tmp_path):
    out = expect_ok(run_case("""
with open("bad.jsonl", "w") as f:
    f.write('{"k": 1, "ts": 0}\\n{"k": "x", "ts": 1}\\n{"k": 2, "ts": 600000}\\n{"k": 1, "ts": 5}\\n')
p = ms.Pipeline(parallelism=1)   # one split: the late row is late whatever the timing
s = p.read_jsonl("bad.jsonl", schema={"k": ms.int64, "ts": ms.int64}, on_error="dead_letter")
bad = []
s.dead_letters().for_each_batch(lambda b: bad.append(b.num_rows))
w = s.with_watermark("ts").key_by("k").window(ms.tumbling("1s"))
w.agg(n=ms.count()).for_each_batch(lambda b: None)
late = []
w.late().for_each_batch(lambda b: late.append(b.num_rows))
result = p.run()
print("dead", sum(bad), result.operator("dead_letters")["rows_in"], result.operator("dead_letters")["rows_out"])
print("late", sum(late), result.operator("late")["rows_in"], result.operator("late")["rows_out"])
""", tmp_path))
    assert "dead 1 1 1" in out and "late 1 1 1" in out, out


# ----- clear errors: pipeline settings ------------------------------------------------------------
@pytest.mark.parametrize("setting", ["parallelism=0", "parallelism=1.5", "parallelism=True",
                                     "batch_size=0", "batch_size=2.5", "batch_size=-1"])
def test_bad_pipeline_settings_are_errors_naming_them(tmp_path, setting):
    out = expect_ok(run_case(f"""
try:
    ms.Pipeline({setting})
    print("no error")
except ValueError as error:
    print("ValueError:", error)
""", tmp_path))
    name = setting.split("=")[0]
    assert f"ValueError: Pipeline({setting}): {name} must be a whole number" in out, out


@pytest.mark.parametrize("literal, message", [
    ("float('nan')", "NaN and infinite literals are not supported"),
    ("float('-inf')", "NaN and infinite literals are not supported"),
    ("2**64", "integers are int64"),
    ("-(2**63) - 1", "integers are int64"),
])
def test_literals_json_or_int64_cannot_carry_are_errors_naming_them(tmp_path, literal, message):
    out = expect_ok(run_case(f"""
s = ms.Pipeline(parallelism=1).from_records([{{"x": 1.0}}])
try:
    s.with_columns(y=ms.lit({literal})).collect()
    print("no error")
except ValueError as error:
    print("ValueError:", error)
print(s.with_columns(y=ms.lit(2**63 - 1)).collect().column("y").to_pylist())
""", tmp_path))
    assert f"ValueError: lit(" in out and message in out, out
    assert "[9223372036854775807]" in out, out


# ----- item 9: expression overflow is one rule: an error naming the expression and the row --------
@pytest.mark.parametrize("expression, operation", [
    ('col("x") + 1', "9223372036854775807 + 1"),
    ('col("x") * 2', "9223372036854775807 * 2"),
    ('-col("m")', "-(-9223372036854775808)"),
    ('col("m") // -1', "-9223372036854775808 // -1"),
    ('col("us").dt.epoch("ns")', "9223372036854775807 us in ns"),
    ('col("ns").dt.truncate("1h")', "the boundary below -9223372036854775807 in steps of 3600000000000"),
    ('col("us") + 1', "time 9223372036854775807 us + 1 ms"),
])
def test_integer_overflow_in_an_expression_is_an_error_naming_it(tmp_path, expression, operation):
    out = expect_ok(run_case(f"""
table = pa.table({{"x": pa.array([1, 2**63 - 1], pa.int64()), "m": pa.array([1, -2**63], pa.int64()),
                   "us": pa.array([0, 2**63 - 1], pa.timestamp("us")),
                   "ns": pa.array([0, -2**63 + 1], pa.timestamp("ns"))}})
p = ms.Pipeline(parallelism=1)   # one batch: the row number is the table's
print_error(lambda: p.from_arrow(table).with_columns(out={expression}).collect())
# Row 0 alone computes.
print("ok:", p.from_arrow(table.slice(0, 1)).with_columns(out={expression}).collect().num_rows)
""", tmp_path))
    assert "ValueError: integer overflow in " in out, out
    assert f"{operation} at row 1 of a batch does not fit in int64" in out, out
    assert "ok: 1" in out, out


def test_a_slice_to_the_largest_length_is_the_rest_of_the_string(tmp_path):
    out = expect_ok(run_case("""
s = ms.Pipeline(parallelism=1).from_records([{"s": "héllo"}, {"s": ""}, {"s": None}])
print(s.select(col("s").str.slice(1, 2**63 - 1).alias("a"),
               col("s").str.slice(-2, 2**63 - 1).alias("b")).collect().to_pylist())
""", tmp_path))
    assert "[{'a': 'éllo', 'b': 'lo'}, {'a': '', 'b': ''}, {'a': None, 'b': None}]" in out, out


# ----- clear errors: durations, CSV headers, numbers, map_batches ---------------------------------
@pytest.mark.parametrize("build, what", [
    ("ms.tumbling(2**64)", "tumbling size"),
    ("ms.sliding('10s', f'{2**62}ms')", "sliding every"),
    ("ms.session(2**61 + 1)", "session gap"),
    ("s.with_watermark('ts', max_delay=2**70)", "max_delay"),
    ("s.select(col('ts').cast(ms.timestamp('ms')).dt.truncate(2**63))", "dt.truncate"),
])
def test_durations_beyond_the_engines_range_are_errors_naming_them(tmp_path, build, what):
    out = expect_ok(run_case(f"""
s = ms.Pipeline(parallelism=1).from_records([{{"ts": 1}}])
print_error(lambda: {build})
print(ms.tumbling(2**61).size_ms)   # the largest duration is fine
""", tmp_path))
    assert f"ValueError: {what}: the duration" in out and "beyond the durations the engine represents" in out, out
    assert str(2**61) in out.splitlines()[-1], out


def test_a_csv_header_that_is_not_utf8_is_an_error_naming_the_file(tmp_path):
    out = expect_ok(run_case("""
with open("latin1.csv", "wb") as f:
    f.write("id,prix_\\u00e9t\\u00e9\\n1,2\\n".encode("latin-1"))
print_error(lambda: ms.Pipeline(parallelism=1).read_csv("latin1.csv").collect())
""", tmp_path))
    assert "ValueError: latin1.csv:1: the header's column 2 name" in out and "is not valid UTF-8" in out, out
    assert "iconv" in out, out


def test_an_empty_header_name_is_column_n_when_inferred_and_when_read(tmp_path):
    out = expect_ok(run_case("""
with open("unnamed.csv", "w") as f:
    f.write(",b,\\n1,2,3\\n4,5,6\\n")   # pandas' to_csv writes an unnamed index so
print(ms.Pipeline(parallelism=2).read_csv("unnamed.csv").collect().to_pylist())
""", tmp_path))
    assert "[{'column_1': 1, 'b': 2, 'column_3': 3}, {'column_1': 4, 'b': 5, 'column_3': 6}]" in out, out


def test_json_numbers_beyond_int64_and_float64_drop_no_row_outside_the_schema(tmp_path):
    out = expect_ok(run_case("""
with open("big.jsonl", "w") as f:
    f.write('{"a": 1, "extra": 1e400}\\n{"a": 2, "extra": 99999999999999999999999, "s": "1e400"}\\n'
            '{"a": 3, "nested": {"x": [-1e999]}}\\n{"a": 4}\\n')
p = ms.Pipeline(parallelism=1)
print(p.read_jsonl("big.jsonl", schema={"a": ms.int64}).collect()["a"].to_pylist())
with open("bad.jsonl", "w") as f:
    f.write('{"a": 1}\\n{"a": 1e400}\\n')
print_error(lambda: p.read_jsonl("bad.jsonl", schema={"a": ms.float64}).collect())
""", tmp_path))
    assert "[1, 2, 3, 4]" in out, out
    assert "ValueError: bad.jsonl:2" in out and "'a'" in out and "1e400 is beyond" in out, out


def test_csv_reads_numbers_below_the_smallest_float_as_zero_as_jsonl_does(tmp_path):
    out = expect_ok(run_case("""
with open("tiny.csv", "w") as f:
    f.write("a,b\\n1,1e-400\\n2,-1e-400\\n3,4.9e-324\\n")
with open("tiny.jsonl", "w") as f:
    f.write('{"a": 1, "b": 1e-400}\\n{"a": 2, "b": -1e-400}\\n{"a": 3, "b": 4.9e-324}\\n')
schema = {"a": ms.int64, "b": ms.float64}
p = ms.Pipeline(parallelism=1)
csv = p.read_csv("tiny.csv", schema=schema).collect()["b"].to_pylist()
jsonl = p.read_jsonl("tiny.jsonl", schema=schema).collect()["b"].to_pylist()
print(csv == jsonl == [0.0, -0.0, 5e-324], csv, jsonl)
with open("huge.csv", "w") as f:
    f.write("a,b\\n1,1e400\\n")
print_error(lambda: p.read_csv("huge.csv", schema=schema).collect())
""", tmp_path))
    assert "True" in out, out
    assert "ValueError: huge.csv:2: field 'b'" in out, out


def test_map_batches_cast_failures_name_the_operator(tmp_path):
    out = expect_ok(run_case("""
def to_text(batch):
    return pa.record_batch({"x": pa.array(["a"])})
s = ms.Pipeline(parallelism=1).from_records([{"x": 1}])
print_error(lambda: s.map_batches(to_text, schema=pa.schema([("x", pa.int64())])).collect())
""", tmp_path))
    assert "ValueError: map_batches(to_text): the function returned columns (x: string)" in out, out
    assert "do not cast to the declared schema" in out, out


def test_write_parquet_failing_on_the_disk_gives_the_errno(tmp_path):
    # A file size limit fails the write as a full disk does, without needing one (EFBIG, not
    # ENOSPC: the point is that the OS's reason reaches the message).
    out = expect_ok(run_case("""
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
rng = np.random.default_rng(1)
p = ms.Pipeline(parallelism=1)
p.from_arrow(pa.table({"x": rng.random(400_000)})).write_parquet("out.parquet")
print_error(lambda: p.run())
print(sorted(os.listdir(".")))
""", tmp_path))
    assert "ValueError: write_parquet(" in out and "[errno 27] File too large" in out, out
    assert "out.parquet" not in out.splitlines()[-1], out   # no partial file under its name


def test_a_bounded_run_leaves_no_rocksdb_files_in_state_dir(tmp_path):
    out = expect_ok(run_case("""
os.mkdir("state")
rng = np.random.default_rng(3)
table = pa.table({"k": rng.integers(0, 200_000, 400_000), "v": rng.random(400_000)})
p = ms.Pipeline(parallelism=2, state="rocksdb", state_dir="state", state_memory="1MB", batch_size=8192)
result = p.from_arrow(table).key_by("k").agg(n=ms.count()).collect()
files = [os.path.join(d, f) for d, _, fs in os.walk("state") for f in fs]
print("keys", len(set(result["k"].to_pylist())), "files", files, "entries", os.listdir("state"))
""", tmp_path))
    assert "keys " in out and "files [] entries []" in out, out
