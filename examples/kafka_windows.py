"""Windows over a Kafka topic read like a file (stop="end"), results written back to Kafka.

Against an in-process mock cluster by default (it is filled with a few thousand bids first);
`--brokers host:port --topic bids` reads a real cluster's topic instead (JSON values with
item, price and ts fields). Run with `.venv/bin/python examples/kafka_windows.py`.
"""
import argparse
import random

import millstream as ms
from millstream.testing import MockKafka

SCHEMA = {"item": ms.int64, "price": ms.float64, "ts": ms.int64}


def fill(kafka: MockKafka, topic: str, bids: int = 20_000) -> None:
    """Bids over 8 partitions, a few seconds out of order (deterministic: seeded)."""
    rng = random.Random(3)
    kafka.create_topic(topic, partitions=8)
    kafka.create_topic(f"{topic}-per-minute", partitions=4)
    records = [{"item": rng.randint(1, 50), "price": round(rng.uniform(1, 100), 2),
                "ts": 1_700_000_000_000 + i * 30 + rng.randint(-2000, 2000)} for i in range(bids)]
    kafka.produce(topic, records, key=lambda r: str(r["item"]))


def run(brokers: str, topic: str, group: str) -> None:
    p = ms.Pipeline(parallelism=2)
    bids = p.read_kafka(topic, brokers=brokers, group=group, schema=SCHEMA, start="committed")
    per_minute = (bids.with_watermark("ts", max_delay="5s").key_by("item")
                  .window(ms.tumbling("1m")).agg(bids=ms.count(), top=ms.max("price")))
    per_minute.write_kafka(f"{topic}-per-minute", brokers=brokers, key="item")
    result = p.run()
    print(f"read {result.operator('read_kafka')['rows_out']} bids, wrote "
          f"{result.operator('write_kafka')['rows_in']} item-minutes in {result.seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--brokers", help="bootstrap servers of a real cluster (default: a mock)")
    parser.add_argument("--topic", default="bids")
    parser.add_argument("--group", default="kafka-windows-example")
    args = parser.parse_args()
    if args.brokers:
        run(args.brokers, args.topic, args.group)
        return
    with MockKafka() as kafka:
        fill(kafka, args.topic)
        run(kafka.bootstrap_servers, args.topic, args.group)
        # A second run of the group reads only what came after the first: nothing here.
        run(kafka.bootstrap_servers, args.topic, args.group)


if __name__ == "__main__":
    main()
