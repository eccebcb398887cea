"""The interval join in an unbounded run over MockKafka (issue 16, the A/B case): a pair goes
out as soon as its second event arrives, without waiting for the watermark; an A event with no
partner goes out alone once the watermark passes its 15 minutes, and not before. Loopback only,
every wait bounded."""
import time

import millstream as ms
from test_kafka import kafka, new_topic  # noqa: F401 (kafka is a fixture)
from test_kafka_stream import Received, wait_read

SCHEMA = {"key": "string", "type": "string", "ts": "int64"}
T0 = 1_700_000_000_000  # event time, ms
MINUTE = 60_000


def test_pairs_go_out_at_once_and_a_lonely_event_after_its_interval(kafka):
    topic = new_topic(kafka, 1)
    received = Received()
    p = ms.Pipeline(parallelism=2)
    events = (p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema=SCHEMA, stop=None)
              .with_watermark("ts", max_delay="5m"))
    a = events.filter(ms.col("type") == "A")
    b = events.filter(ms.col("type") == "B")
    a.join(b, on="key", within="15m", how="outer").for_each_batch(received)
    job = p.start()
    produced = 0
    try:
        # Pairs: B a minute after its A in event time; each pair must reach the sink at once.
        latencies = []
        for i in range(5):
            key = f"k{i}"
            kafka.produce(topic, [{"key": key, "type": "A", "ts": T0 + i * 1000}], partition=0)
            produced += 1
            sent = time.monotonic()
            kafka.produce(topic, [{"key": key, "type": "B", "ts": T0 + i * 1000 + MINUTE}],
                          partition=0)
            produced += 1
            received.wait_for(lambda rows: any(r["key"] == key and r["ts_right"] is not None
                                               for r in rows), timeout=10)
            latencies.append(time.monotonic() - sent)
        # The aim is well under a second (the unbounded source polls every ~100 ms); the
        # bound is the one second, on the median.
        assert sorted(latencies)[len(latencies) // 2] < 1.0, latencies

        # An A without partner; later events (of neither side) move the watermark.
        lonely = T0 + 10 * MINUTE
        kafka.produce(topic, [{"key": "lonely", "type": "A", "ts": lonely}], partition=0)
        kafka.produce(topic, [{"key": "x", "type": "X", "ts": lonely + 10 * MINUTE}],
                      partition=0)
        produced += 2
        wait_read(job, produced)
        time.sleep(0.5)  # what the job would emit for that watermark has had time to go out
        # The watermark is now lonely + 5 min: its partner could still come.
        assert not any(r["key"] == "lonely" for r in received.rows())

        kafka.produce(topic, [{"key": "x", "type": "X", "ts": lonely + 21 * MINUTE}],
                      partition=0)
        rows = received.wait_for(lambda rows: any(r["key"] == "lonely" for r in rows),
                                 timeout=10)
    finally:
        job.stop(timeout=10)

    alone = [r for r in rows if r["ts_right"] is None or r["ts"] is None]
    assert alone == [{"key": "lonely", "type": "A", "ts": lonely, "type_right": None,
                      "ts_right": None}]
    pairs = sorted((r["key"], r["ts"], r["ts_right"]) for r in rows if r not in alone)
    # Each A matched once, and none of them came out again as unmatched.
    assert pairs == [(f"k{i}", T0 + i * 1000, T0 + i * 1000 + MINUTE) for i in range(5)]
