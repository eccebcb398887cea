"""The daily batch job, on the embedded defaults: a day of events from a local JSONL file,
filtered and enriched, windowed per user with keyed state in a local RocksDB directory.

Run with `make demo` (or `.venv/bin/python examples/quickstart.py`).
"""
import json
import os
import random

import millstream as ms
from millstream import col

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.join(HERE, "data", "events.jsonl")
OUTPUT = os.path.join(HERE, "output")


def make_events(path: str, rows: int = 200_000) -> None:
    """A day of events, slightly out of order (deterministic: seeded)."""
    rng = random.Random(7)
    start_ms = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for i in range(rows):
            ts = start_ms + i * 86_400_000 // rows + rng.randint(-3000, 3000)
            f.write(json.dumps({"user": f"u{rng.randint(1, 500)}", "kind": rng.choice("AAAB"),
                                "amount": round(rng.expovariate(1 / 40), 2), "ts": ts}) + "\n")


def main() -> None:
    if not os.path.exists(EVENTS):
        make_events(EVENTS)
    os.makedirs(OUTPUT, exist_ok=True)
    p = ms.Pipeline(state_dir=os.path.join(OUTPUT, "state"))  # all cores; RocksDB state on disk
    events = p.read_jsonl(EVENTS, schema={"user": ms.string, "kind": ms.string,
                                          "amount": ms.float64, "ts": ms.int64})
    alerts = (events
              .filter((col("kind") == "B") & (col("amount") > 150))
              .with_columns(amount_eur=col("amount") * 0.92, hour=ms.from_epoch(col("ts")).dt.hour()))
    alerts.write_jsonl(os.path.join(OUTPUT, "alerts.jsonl"))
    hourly = (events
              .with_watermark("ts", max_delay="5s")
              .key_by("user")
              .window(ms.tumbling("1h"))
              .agg(events=ms.count(), spent=ms.sum("amount"), biggest=ms.max("amount")))
    busiest = hourly.to_pandas().sort_values("spent", ascending=False).head(5)  # also writes alerts
    alert_count = sum(1 for _ in open(os.path.join(OUTPUT, "alerts.jsonl")))
    print(f"alerts written to examples/output/alerts.jsonl: {alert_count}")
    print("busiest user-hours:")
    print(busiest.to_string(index=False))


if __name__ == "__main__":
    main()
