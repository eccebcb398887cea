"""A and B events of one Kafka topic joined on their key within 15 minutes (issue 16's case).

Events of type A and B share a key. Joined pairs go to the Kafka topic `matched` as soon as the
second event of a pair is read; an event that found no partner within 15 minutes goes out on
its own once the watermark has passed its 15 minutes, to an alerts file in the shape
Elasticsearch's bulk API takes (an action line, then the document). Against an in-process mock
cluster, filled with a few thousand events first, read like a file (stop="end"). Run with
`.venv/bin/python examples/ab_join.py [--alerts examples/output/alerts.bulk.jsonl]`.
"""
import argparse
import json
import os
import random

import millstream as ms
from millstream import col
from millstream.testing import MockKafka

SCHEMA = {"order_id": ms.int64, "type": ms.string, "ts": ms.int64, "amount": ms.float64}
START_MS = 1_700_000_000_000
MINUTE_MS = 60_000


def fill(kafka: MockKafka, topic: str, orders: int = 5_000) -> None:
    """Per order an A (placed) and usually a B (paid): 70% within 15 minutes, 20% hours later,
    10% never. Seeded, a few seconds out of order over 4 partitions."""
    rng = random.Random(16)
    kafka.create_topic(topic, partitions=4)
    kafka.create_topic("matched", partitions=4)
    events = []
    for order in range(orders):
        placed = START_MS + order * 2_000
        events.append({"order_id": order, "type": "A", "ts": placed, "amount": None})
        fate = rng.random()
        if fate < 0.9:
            delay = rng.randrange(15 * MINUTE_MS) if fate < 0.7 else rng.randrange(60, 300) * MINUTE_MS
            events.append({"order_id": order, "type": "B", "ts": placed + delay,
                           "amount": round(rng.uniform(5, 500), 2)})
    events.sort(key=lambda e: e["ts"] + rng.randrange(5_000))
    kafka.produce(topic, events, key=lambda e: str(e["order_id"]))


def bulk_writer(path: str):
    """A for_each_batch sink: each row as an Elasticsearch bulk `index` action and document."""
    out = open(path, "w")

    def write(batch) -> None:
        for row in batch.to_pylist():
            out.write(json.dumps({"index": {"_index": "unpaid-orders",
                                            "_id": f"{row['order_id']}-{row['ts'] or row['ts_right']}"}}) + "\n")
            out.write(json.dumps(row) + "\n")
        out.flush()
    return write, out


def run(brokers: str, topic: str, alerts_path: str) -> None:
    p = ms.Pipeline(parallelism=2)
    events = p.read_kafka(topic, brokers=brokers, group="ab-join-example", schema=SCHEMA,
                          stop="end").with_watermark("ts", max_delay="10s")
    placed = events.filter(col("type") == "A").drop("amount")
    paid = events.filter(col("type") == "B")
    joined = placed.join(paid, on="order_id", within=(0, "15m"), how="outer")
    matched = joined.filter(col("ts").is_not_null() & col("ts_right").is_not_null())
    unmatched = joined.filter(col("ts").is_null() | col("ts_right").is_null())
    matched.with_columns(delay_ms=col("ts_right") - col("ts")).write_kafka(
        "matched", brokers=brokers, key="order_id")
    write_alert, alerts_file = bulk_writer(alerts_path)
    unmatched.for_each_batch(write_alert)
    result = p.run()
    alerts_file.close()
    print(f"read {result.operator('read_kafka')['rows_out']} events; "
          f"{result.operator('write_kafka')['rows_in']} matched pairs to Kafka; "
          f"{result.operator('for_each_batch')['rows_in']} alerts to {alerts_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "output", "alerts.bulk.jsonl"))
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.alerts), exist_ok=True)
    with MockKafka() as kafka:
        fill(kafka, "orders")
        run(kafka.bootstrap_servers, "orders", args.alerts)
        delays = [r.json()["delay_ms"] for r in kafka.consume("matched")]
        print(f"match delays: median {sorted(delays)[len(delays) // 2] / MINUTE_MS:.1f} min, "
              f"max {max(delays) / MINUTE_MS:.1f} min over {len(delays)} pairs")


if __name__ == "__main__":
    main()
