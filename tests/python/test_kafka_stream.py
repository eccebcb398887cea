"""Unbounded Kafka runs (read_kafka(stop=None)): output while the job runs, live metrics, a
stop that drains and commits, idle partitions, partitions read at uneven rates. Checked against
plain-Python references and confluent-kafka's view of the group; loopback only, every wait
bounded."""
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pyarrow as pa
import pytest

import confluent_kafka
import millstream as ms
from millstream.testing import MockKafka
from reference import window_reference
from test_kafka import kafka, new_topic  # noqa: F401 (kafka is a fixture)
from test_windows import assert_same, random_rows, result_dict

SCHEMA = {"key": "string", "value": "float64", "ts": "int64"}
AGGS = {"n": ("count", None), "total": ("sum", "value"), "hi": ("max", "value")}


class Received:
    """A for_each_batch callback that keeps the rows it got, and waits for them (bounded)."""

    def __init__(self):
        self._tables = []
        self._lock = threading.Lock()

    def __call__(self, batch):
        with self._lock:
            self._tables.append(pa.Table.from_batches([batch]))

    def rows(self):
        with self._lock:
            tables = list(self._tables)
        return pa.concat_tables(tables).to_pylist() if tables else []

    def wait_for(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.rows()
            if predicate(rows):
                return rows
            time.sleep(0.01)
        raise AssertionError(f"not seen within {timeout} s; got {len(self.rows())} rows")


def committed_offsets(kafka, topic, group, partitions):
    consumer = confluent_kafka.Consumer({"bootstrap.servers": kafka.bootstrap_servers,
                                         "group.id": group})
    try:
        found = consumer.committed([confluent_kafka.TopicPartition(topic, p)
                                    for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return [tp.offset for tp in found]


def wait_read(job, count, timeout=20.0):
    """Waits (bounded) until the job's Kafka source has returned `count` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        source = next(m for m in job.metrics() if m["operator"].startswith("read_kafka"))
        if source["rows_out"] >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"the source read {source['rows_out']} of {count} rows in {timeout} s")


def start_stream(kafka, topic, sink, parallelism=2, group=None, **options):
    p = ms.Pipeline(parallelism=parallelism)
    s = p.read_kafka(topic, brokers=kafka.bootstrap_servers, group=group, schema=SCHEMA,
                     stop=None, **options)
    return p, s


def test_records_reach_a_sink_while_the_job_runs_and_stop_commits_them(kafka):
    topic = new_topic(kafka, 3)
    group = f"g-{uuid.uuid4().hex[:8]}"
    received = Received()
    p, s = start_stream(kafka, topic, received, group=group)
    s.for_each_batch(received)
    job = p.start()
    try:
        latencies = []
        for i in range(20):
            sent = time.monotonic()
            kafka.produce(topic, [{"key": f"k{i}", "value": float(i), "ts": i}], partition=i % 3)
            received.wait_for(lambda rows: len(rows) == i + 1, timeout=10)
            latencies.append(time.monotonic() - sent)
        # ~1 s is the aim; the bound leaves room for a machine shared with other builds.
        assert sorted(latencies)[len(latencies) // 2] < 1.0, latencies
        assert job.status == "running"
    finally:
        job.stop(timeout=10)
    assert job.status == "stopped"
    with pytest.raises(ms.JobStopped):
        job.wait(timeout=10)
    rows = received.rows()
    assert sorted(r["ts"] for r in rows) == list(range(20))
    assert committed_offsets(kafka, topic, group, 3) == [7, 7, 6]
    # The next run of the group starts after them.
    kafka.produce(topic, [{"key": "late", "value": 1.0, "ts": 99}], partition=1)
    again = ms.Pipeline(parallelism=1).read_kafka(
        topic, brokers=kafka.bootstrap_servers, group=group, schema=SCHEMA, start="committed")
    assert again.collect().column("ts").to_pylist() == [99]


def test_a_window_goes_out_when_the_watermark_passes_it(kafka):
    topic = new_topic(kafka, 1)
    received = Received()
    p, s = start_stream(kafka, topic, received)
    (s.with_watermark("ts", max_delay="1s").key_by("key").window(ms.tumbling("10s"))
     .agg(n=ms.count(), total=ms.sum("value")).for_each_batch(received))
    job = p.start()
    try:
        kafka.produce(topic, [{"key": "a", "value": 1.0, "ts": t * 1000} for t in range(10)])
        time.sleep(0.3)
        assert received.rows() == []  # the window [0 s, 10 s) is open until the watermark passes
        kafka.produce(topic, [{"key": "a", "value": 5.0, "ts": 11_500}])  # watermark 10.5 s
        rows = received.wait_for(lambda rows: len(rows) == 1, timeout=10)
        assert (rows[0]["n"], rows[0]["total"]) == (10, 10.0)
    finally:
        job.stop(timeout=10)
    # Stopping closes the open window with what it holds, as at the end of an input.
    rows = received.rows()
    assert [(r["n"], r["total"]) for r in rows] == [(10, 10.0), (1, 5.0)]


def test_collect_and_run_on_an_unbounded_stream_say_what_to_do(kafka):
    topic = new_topic(kafka, 1)
    p, s = start_stream(kafka, topic, None)
    with pytest.raises(ValueError, match=r"unbounded \(stop=None\).*stop='end'.*for_each_batch"):
        s.collect()
    with pytest.raises(ValueError, match=r"unbounded \(stop=None\).*stop='end'.*for_each_batch"):
        p.collect(s.filter(ms.col("value") > 0))
    s.for_each_batch(lambda batch: None)
    with pytest.raises(ValueError, match=r"run\(\):.*unbounded.*p.start\(\)"):
        p.run()
    with pytest.raises(ValueError, match="stop must be 'end' or None"):
        p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema=SCHEMA, stop="never")


def test_metrics_show_each_partition_offset_and_lag_while_running(kafka):
    topic = new_topic(kafka, 2)
    kafka.produce(topic, [{"key": "a", "value": 1.0, "ts": i} for i in range(30)], partition=0)
    kafka.produce(topic, [{"key": "b", "value": 1.0, "ts": i} for i in range(12)], partition=1)
    received = Received()
    p, s = start_stream(kafka, topic, received)
    s.for_each_batch(received)
    job = p.start()
    try:
        received.wait_for(lambda rows: len(rows) == 42)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            source = next(m for m in job.metrics() if m["operator"].startswith("read_kafka"))
            splits = {split["split"]: (split["offset"], split["lag"]) for split in source["splits"]}
            if splits == {f"{topic}[0]": (30, 0), f"{topic}[1]": (12, 0)}:
                break
            time.sleep(0.02)
        assert splits == {f"{topic}[0]": (30, 0), f"{topic}[1]": (12, 0)}
        assert source["rows_out"] == 42
    finally:
        job.stop(timeout=10)


def test_stop_is_prompt_on_an_idle_stream(kafka):
    topic = new_topic(kafka, 4)
    p, s = start_stream(kafka, topic, None, parallelism=2)
    s.for_each_batch(lambda batch: None)
    job = p.start()
    time.sleep(0.2)
    began = time.monotonic()
    job.stop(timeout=10)
    assert job.status == "stopped"
    assert time.monotonic() - began < 2.0


CTRL_C_SCRIPT = textwrap.dedent("""
    import sys
    import millstream as ms
    brokers, topic, group = sys.argv[1:]
    p = ms.Pipeline(parallelism=2)
    seen = []
    def take(batch):
        seen.extend(batch.column("ts").to_pylist())
        print(f"rows {len(seen)}", flush=True)
    p.read_kafka(topic, brokers=brokers, group=group, stop=None,
                 schema={"key": "string", "value": "float64", "ts": "int64"}).for_each_batch(take)
    job = p.start()
    print("started", flush=True)
    try:
        job.wait()
    except KeyboardInterrupt:
        print(f"interrupted {job.status} {len(seen)}", flush=True)
""")


def test_ctrl_c_in_a_script_drains_the_job_and_commits(kafka):
    """A script blocked in job.wait() gets SIGINT: the job drains, commits what its sink took,
    and wait() raises KeyboardInterrupt (MockKafka lives in this process, reached over TCP)."""
    topic = new_topic(kafka, 3)
    group = f"g-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, kafka.bootstrap_servers,
                                topic, group], stdout=subprocess.PIPE, text=True)
    lines = queue.Queue()  # read by a thread, so that every wait below is bounded
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in process.stdout],
                     daemon=True).start()

    def wait_for_line(expected, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if lines.get(timeout=max(0.01, deadline - time.monotonic())) == expected:
                    return
            except queue.Empty:
                break
        raise AssertionError(f"the script did not print {expected!r} within {timeout} s")

    try:
        wait_for_line("started")
        kafka.produce(topic, [{"key": "a", "value": 1.0, "ts": i} for i in range(90)],
                      partition=lambda r: r["ts"] % 3)
        wait_for_line("rows 90")
        process.send_signal(signal.SIGINT)
        wait_for_line("interrupted stopped 90")
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert committed_offsets(kafka, topic, group, 3) == [30, 30, 30]


# ----- partitions' watermarks ----------------------------------------------------------------------

def windowed(s, received, idle_timeout=None):
    (s.with_watermark("ts", max_delay="1s", idle_timeout=idle_timeout).key_by("key")
     .window(ms.tumbling("10s")).agg(n=ms.count()).for_each_batch(received))


@pytest.mark.parametrize("parallelism", [1, 2])
def test_an_idle_partition_holds_windows_back_unless_it_times_out(kafka, parallelism):
    records = [{"key": "a", "value": 1.0, "ts": t * 1000} for t in range(25)]
    for idle_timeout in (None, "200ms"):
        topic = new_topic(kafka, 2)
        received = Received()
        p, s = start_stream(kafka, topic, received, parallelism=parallelism)
        windowed(s, received, idle_timeout)
        job = p.start()
        try:
            kafka.produce(topic, records, partition=0)  # partition 1 stays silent
            if idle_timeout is None:
                time.sleep(1.0)
                assert received.rows() == []  # its watermark is the minimum's: nothing fires
            else:
                rows = received.wait_for(lambda rows: len(rows) == 2, timeout=10)
                assert [r["n"] for r in rows] == [10, 10]
            wait_read(job, len(records))
        finally:
            job.stop(timeout=10)
        assert sorted(r["n"] for r in received.rows()) == [5, 10, 10]


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_partitions_read_at_uneven_rates_give_the_windows_of_in_order_input(kafka, parallelism):
    rows = random_rows(3000, seed=parallelism)  # out of order by up to ±4 s
    topic = new_topic(kafka, 4)
    by_partition = {p: [] for p in range(4)}
    for i, row in enumerate(rows):
        by_partition[i % 4].append(row)
    received = Received()
    p, s = start_stream(kafka, topic, received, parallelism=parallelism)
    (s.with_watermark("ts", max_delay="9s").key_by("key").window(ms.tumbling("10s"))
     .agg(n=ms.count(), total=ms.sum("value"), hi=ms.max("value")).for_each_batch(received))
    job = p.start()
    try:
        # Partition 0 entirely first, then the others in turns, each at its own pace (chunks of
        # 60, 120 and 180 rows).
        kafka.produce(topic, by_partition[0], partition=0)
        time.sleep(0.3)
        for step in range(0, len(rows), 60):
            for partition in (1, 2, 3):
                chunk = 60 * partition
                first = step * partition
                if first < len(by_partition[partition]):
                    kafka.produce(topic, by_partition[partition][first:first + chunk],
                                  partition=partition)
        wait_read(job, len(rows))
    finally:
        job.stop(timeout=10)
    expected, late = window_reference(rows, {"kind": "tumbling", "size": 10_000}, AGGS)
    assert not late
    got = pa.Table.from_pylist(received.rows())
    assert_same(result_dict(got, list(AGGS)), expected)


def test_a_partition_far_ahead_of_the_slowest_is_paused_then_resumed(kafka):
    """Partition 0 holds 10 minutes of events, partition 1 its first 20 s: partition 0 is read
    to about a minute (WatermarkAlignment.kMaxLeadMs) ahead of partition 1 and paused there (its
    offset stops, its records wait in the broker), and resumes as partition 1 catches up. The
    windows are those of the input in order."""
    topic = new_topic(kafka, 2)
    ahead = [{"key": "a", "value": 1.0, "ts": i * 1000} for i in range(600)]
    behind = [{"key": "b", "value": 1.0, "ts": i * 1000} for i in range(600)]
    received = Received()
    p = ms.Pipeline(parallelism=2, batch_size=10)
    s = p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema=SCHEMA, stop=None)
    (s.with_watermark("ts", max_delay="1s").key_by("key").window(ms.tumbling("10s"))
     .agg(n=ms.count(), total=ms.sum("value"), hi=ms.max("value")).for_each_batch(received))
    job = p.start()

    def partition_0():
        source = next(m for m in job.metrics() if m["operator"].startswith("read_kafka"))
        return next(split for split in source["splits"] if split["split"] == f"{topic}[0]")

    try:
        kafka.produce(topic, behind[:20], partition=1)
        wait_read(job, 20)  # partition 1 has a watermark (18 s) before partition 0 races
        kafka.produce(topic, ahead, partition=0)
        deadline = time.monotonic() + 20
        while not partition_0()["paused"] and time.monotonic() < deadline:
            time.sleep(0.01)
        held = partition_0()
        assert held["paused"], held
        time.sleep(0.3)
        # Paused at the first chunk past 18 s + 60 s (chunks of at most 10 rows): row 79 to 90.
        assert 79 <= partition_0()["offset"] <= 90, partition_0()
        kafka.produce(topic, behind[20:], partition=1)
        wait_read(job, 1200)
        assert not partition_0()["paused"]
    finally:
        job.stop(timeout=10)
    expected, late = window_reference(ahead + behind, {"kind": "tumbling", "size": 10_000}, AGGS)
    assert not late
    assert_same(result_dict(pa.Table.from_pylist(received.rows()), list(AGGS)), expected)


# ----- faults --------------------------------------------------------------------------------------

def test_a_broker_down_mid_run_loses_nothing():
    """The only broker goes down while the job runs and comes back 1.5 s later: the job keeps
    running (its partitions wait), then reads on; every record reaches the sink exactly once."""
    with MockKafka() as cluster:
        cluster.create_topic("bids", 3)
        group = f"g-{uuid.uuid4().hex[:8]}"
        received = Received()
        p = ms.Pipeline(parallelism=2)
        (p.read_kafka("bids", brokers=cluster.bootstrap_servers, group=group, schema=SCHEMA,
                      stop=None).for_each_batch(received))
        job = p.start()
        try:
            first = [{"key": "a", "value": 1.0, "ts": i} for i in range(300)]
            cluster.produce("bids", first, partition=lambda r: r["ts"] % 3)
            received.wait_for(lambda rows: len(rows) == 300)
            cluster.broker_down(1)
            time.sleep(1.5)
            assert job.status == "running"
            cluster.broker_up(1)
            second = [{"key": "b", "value": 2.0, "ts": 300 + i} for i in range(300)]
            cluster.produce("bids", second, partition=lambda r: r["ts"] % 3)
            rows = received.wait_for(lambda rows: len(rows) >= 600, timeout=30)
            assert job.status == "running"
        finally:
            job.stop(timeout=10)
        assert sorted(r["ts"] for r in received.rows()) == list(range(600))
        assert sum(committed_offsets(cluster, "bids", group, 3)) == 600
