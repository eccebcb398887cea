"""Kafka throughput against librdkafka's mock cluster (in this process), per issue 15:

1. Kafka -> filter -> with_columns -> Kafka (parallelism 2);
2. Kafka (stop="end") -> 10 s tumbling count + max per key -> collect (parallelism 1 and 2);

side by side in the same run with the ceiling, a raw librdkafka pass in C++ with no processing
(benchmarks/cpp/kafka_raw_pass.cpp: consume -> produce for 1, consume only for 2), and a plain
confluent-kafka Python loop doing the same work. The mock broker shares the machine's cores, so
millstream is judged by its ratio to the raw pass of the same run. Prints a table.

    .venv/bin/python benchmarks/kafka.py [--messages 2000000] [--partitions 128]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict

import millstream as ms
from millstream.testing import MockKafka

HERE = os.path.dirname(os.path.abspath(__file__))
RAW_PASS_SOURCE = os.path.join(HERE, "cpp", "kafka_raw_pass.cpp")
RAW_PASS_BINARY = os.path.join(HERE, "data", "kafka_raw_pass")
SCHEMA = {"auction": ms.int64, "bidder": ms.int64, "price": ms.float64, "channel": ms.string,
          "agent": ms.string, "url": ms.string, "ts": ms.int64}
PRICE_LIMIT = 500.0  # the filter keeps about half of the bids


def bids(count, seed=5):
    """~200-byte JSON bids, a few seconds out of order, keyed by auction."""
    rng = random.Random(seed)
    start = 1_700_000_000_000
    for i in range(count):
        auction = rng.randint(1, 1000)
        yield auction, json.dumps({
            "auction": auction, "bidder": rng.randint(1, 100_000),
            "price": round(rng.uniform(1, 1000), 2), "channel": rng.choice(["web", "app", "api"]),
            "agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "url": f"https://www.example.com/auction/{auction}/bid?session={rng.getrandbits(64):016x}",
            "ts": start + i + rng.randint(-3000, 3000)}).encode()


def build_raw_pass():
    if not os.path.exists(RAW_PASS_BINARY) or \
            os.path.getmtime(RAW_PASS_BINARY) < os.path.getmtime(RAW_PASS_SOURCE):
        os.makedirs(os.path.dirname(RAW_PASS_BINARY), exist_ok=True)
        subprocess.run(["g++", "-O2", "-std=c++20", RAW_PASS_SOURCE, "-lrdkafka", "-o",
                        RAW_PASS_BINARY], check=True)


def raw_pass(brokers, topic, to=None):
    command = [RAW_PASS_BINARY, "--brokers", brokers, "--topic", topic] + (["--to", to] if to else [])
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800).stdout
    messages, _, seconds = out.split()
    return int(messages), float(seconds)


def confluent_loop(brokers, topic, partitions, to=None, window_ms=10_000):
    """consume -> json.loads -> (filter -> with_columns -> json.dumps -> produce | windows)."""
    import confluent_kafka
    started = time.perf_counter()
    consumer = confluent_kafka.Consumer({"bootstrap.servers": brokers, "group.id": "python-loop",
                                         "enable.auto.commit": False, "enable.partition.eof": True})
    ends = {p: consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p))[1]
            for p in range(partitions)}
    consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(partitions)])
    producer = confluent_kafka.Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                                         "partitioner": "murmur2_random"}) if to else None
    windows = defaultdict(lambda: [0, float("-inf")])
    unfinished, messages = {p for p, end in ends.items() if end > 0}, 0
    while unfinished:
        for message in consumer.consume(1000, 1.0):
            p = message.partition()
            if message.error():
                if message.offset() >= ends[p]:
                    unfinished.discard(p)
                continue
            if message.offset() >= ends[p]:
                continue
            messages += 1
            bid = json.loads(message.value())
            if to:
                if bid["price"] > PRICE_LIMIT:
                    bid["price_eur"] = bid["price"] * 0.92
                    while True:
                        try:
                            producer.produce(to, json.dumps(bid).encode(), key=message.key())
                            break
                        except BufferError:
                            producer.poll(0.01)
                    producer.poll(0)
            else:
                state = windows[(bid["auction"], bid["ts"] // window_ms)]
                state[0] += 1
                state[1] = max(state[1], bid["price"])
            if message.offset() + 1 >= ends[p]:
                unfinished.discard(p)
    if producer is not None:
        producer.flush(60)
    consumer.close()
    return messages, time.perf_counter() - started


def millstream_windows(brokers, topic, parallelism):
    started = time.perf_counter()
    p = ms.Pipeline(parallelism=parallelism)
    table = (p.read_kafka(topic, brokers=brokers, schema=SCHEMA)
             .with_watermark("ts", max_delay="7s")  # jitter ±3 s: nothing late
             .key_by("auction").window(ms.tumbling("10s"))
             .agg(n=ms.count(), top=ms.max("price")).collect())
    return int(sum(table.column("n").to_pylist())), time.perf_counter() - started


def millstream_filter(brokers, topic, to, parallelism):
    started = time.perf_counter()
    p = ms.Pipeline(parallelism=parallelism)
    (p.read_kafka(topic, brokers=brokers, schema=SCHEMA).filter(ms.col("price") > PRICE_LIMIT)
     .with_columns(price_eur=ms.col("price") * 0.92)
     .write_kafka(to, brokers=brokers, key="auction"))
    result = p.run()
    return result.operator("read_kafka")["rows_out"], time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2_000_000)
    # The mock keeps ~5 MB a partition: 2 M bids of ~200 B need more than 80.
    parser.add_argument("--partitions", type=int, default=128)
    args = parser.parse_args()
    build_raw_pass()
    rows = []
    with MockKafka() as kafka:
        brokers = kafka.bootstrap_servers
        kafka.create_topic("bids", args.partitions)
        loaded = time.perf_counter()
        batch = []
        total_bytes = 0
        for i, (auction, value) in enumerate(bids(args.messages)):
            batch.append(value)
            total_bytes += len(value)
            if len(batch) == 200_000 or i == args.messages - 1:
                kafka.produce("bids", batch, partition=lambda v: hash(v) % args.partitions)
                batch = []
        print(f"loaded {args.messages:,} bids ({total_bytes / args.messages:.0f} B each) over "
              f"{args.partitions} partitions in {time.perf_counter() - loaded:.1f} s", file=sys.stderr)
        mb = total_bytes / 1e6

        def record(case, engine, parallelism, measured):
            messages, seconds = measured
            if messages != args.messages:
                sys.exit(f"{case} {engine}: read {messages:,} of {args.messages:,} messages (the "
                         "mock keeps ~5 MB a partition and drops older ones: more --partitions)")
            rows.append((case, engine, parallelism, seconds, messages / seconds, mb / seconds))
            print(f"  {case} {engine} P={parallelism}: {seconds:.2f} s", file=sys.stderr)

        out = iter(range(1000))
        def new_out():
            name = f"bids-out-{next(out)}"
            kafka.create_topic(name, args.partitions)
            return name

        record("1 filter->kafka", "raw librdkafka (C++)", 1, raw_pass(brokers, "bids", new_out()))
        record("1 filter->kafka", "millstream", 2, millstream_filter(brokers, "bids", new_out(), 2))
        record("1 filter->kafka", "confluent-kafka loop", 1,
               confluent_loop(brokers, "bids", args.partitions, new_out()))
        record("2 windows", "raw librdkafka (C++)", 1, raw_pass(brokers, "bids"))
        for parallelism in (1, 2):
            record("2 windows", "millstream", parallelism, millstream_windows(brokers, "bids", parallelism))
        record("2 windows", "confluent-kafka loop", 1, confluent_loop(brokers, "bids", args.partitions))

    raw = {case: msg_s for case, engine, _, _, msg_s, _ in rows if engine.startswith("raw")}
    print(f"{'case':<17} {'engine':<22} {'P':>2} {'seconds':>8} {'msg/s':>11} {'MB/s':>7} {'x raw':>6}")
    for case, engine, parallelism, seconds, msg_s, mb_s in rows:
        print(f"{case:<17} {engine:<22} {parallelism:>2} {seconds:>8.2f} {msg_s:>11,.0f} "
              f"{mb_s:>7.1f} {msg_s / raw[case]:>6.2f}")


if __name__ == "__main__":
    main()
