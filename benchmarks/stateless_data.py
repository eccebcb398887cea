"""Deterministic input of the stateless benchmark: product sales rows, as Parquet, JSONL and CSV.

Columns: id int64 (unique), price float64 (cents, 1.00 .. 199.99, so text round-trips exactly and
`price > 100` keeps about half the rows), qty int64 (1 .. 49), category string (24 department
names, 4-22 characters), name string (product names such as "Ergonomic Bamboo Desk Lamp 4821",
about 20-45 characters, a few with accented letters). Generated vectorised (numpy + pyarrow
compute) from a fixed seed, written once under benchmarks/data/ and reused.
"""
from __future__ import annotations

import io
import json
import os
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness import DATA_DIR

SEED = 20_240_611
SCHEMA = pa.schema([("id", pa.int64()), ("price", pa.float64()), ("qty", pa.int64()),
                    ("category", pa.string()), ("name", pa.string())])
FILTER_PRICE_ABOVE = 100.0

CATEGORIES = ["Books", "Electronics", "Home & Kitchen", "Garden", "Toys", "Sports & Outdoors",
              "Beauty", "Health", "Automotive", "Grocery", "Pet Supplies", "Office Products",
              "Clothing", "Shoes", "Jewelry", "Music", "Movies & TV", "Video Games", "Baby",
              "Tools & Home Improvement", "Arts & Crafts", "Industrial", "Software", "Café Goods"]
ADJECTIVES = ["Ergonomic", "Rustic", "Sleek", "Handmade", "Refined", "Practical", "Generic",
              "Intelligent", "Gorgeous", "Incredible", "Fantastic", "Small", "Large", "Licensed",
              "Unbranded", "Tasty", "Awesome", "Modern", "Vintage", "Compact", "Premium", "Crème"]
MATERIALS = ["Steel", "Wooden", "Concrete", "Plastic", "Cotton", "Granite", "Rubber", "Bamboo",
             "Frozen", "Fresh", "Soft", "Metal", "Leather", "Ceramic", "Glass", "Wool"]
NOUNS = ["Chair", "Car", "Computer", "Keyboard", "Mouse", "Bike", "Ball", "Gloves", "Pants",
         "Shirt", "Table", "Shoes", "Hat", "Towels", "Soap", "Tuna", "Chicken", "Fish", "Cheese",
         "Bacon", "Pizza", "Salad", "Sausages", "Chips", "Desk Lamp", "Coffee Maker",
         "Water Bottle", "Backpack", "Headphones", "Phone Case", "Notebook", "Umbrella"]


def stateless_table(rows: int, seed: int = SEED) -> pa.Table:
    """`rows` rows of the benchmark input; the same rows for the same (rows, seed)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1_000_000_000, 1_000_000_000 + rows, dtype=np.int64)
    price = rng.integers(100, 20_000, rows, dtype=np.int64) / 100.0
    qty = rng.integers(1, 50, rows, dtype=np.int64)
    category = pa.array(CATEGORIES).take(pa.array(rng.integers(0, len(CATEGORIES), rows)))
    words = [pa.array(choices).take(pa.array(rng.integers(0, len(choices), rows)))
             for choices in (ADJECTIVES, MATERIALS, NOUNS)]
    model = pc.cast(pa.array(rng.integers(10, 10_000, rows, dtype=np.int64)), pa.string())
    name = pc.binary_join_element_wise(*words, model, " ")
    return pa.table([pa.array(ids), pa.array(price), pa.array(qty), category, name], schema=SCHEMA)


def _path(name: str) -> str:
    os.makedirs(DATA_DIR, exist_ok=True)
    return os.path.join(DATA_DIR, name)


def _write_once(path: str, write) -> None:
    """Writes through a temporary name, so an interrupted run leaves no half file behind."""
    if os.path.exists(path):
        return
    started = time.perf_counter()
    temporary = path + ".partial"
    write(temporary)
    os.replace(temporary, path)
    print(f"generated {os.path.relpath(path)} ({os.path.getsize(path) / 2**20:,.0f} MiB) "
          f"in {time.perf_counter() - started:.1f} s", flush=True)


def _write_parquet(table: pa.Table, path: str) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path, compression="zstd", row_group_size=1_000_000)


def ensure_parquet(rows: int) -> str:
    """Input of the in-memory case (loaded, not timed): Parquet is the fastest way back to Arrow."""
    path = _path(f"stateless_{rows}.parquet")
    _write_once(path, lambda temporary: _write_parquet(stateless_table(rows), temporary))
    return path


def _jsonl_bytes_per_row() -> float:
    import polars as pl

    sample = pl.from_arrow(stateless_table(200_000, seed=SEED + 1))
    buffer = io.BytesIO()
    sample.write_ndjson(buffer)
    return buffer.tell() / sample.height


def rows_for_jsonl_bytes(target_bytes: int) -> int:
    """How many rows make a JSONL file of about `target_bytes` (estimated on a sample)."""
    return max(1, int(round(target_bytes / _jsonl_bytes_per_row())))


def ensure_text_files(target_jsonl_bytes: int) -> dict:
    """The JSONL file of about `target_jsonl_bytes` and a CSV file of the same rows.

    Returns {"rows", "jsonl", "csv"}. A small sidecar remembers the row count of a size, so the
    estimate (and the big files) are not redone.
    """
    sidecar = _path(f"stateless_text_{target_jsonl_bytes}.json")
    if os.path.exists(sidecar):
        with open(sidecar) as meta:
            rows = json.load(meta)["rows"]
    else:
        rows = rows_for_jsonl_bytes(target_jsonl_bytes)
    jsonl, csv = _path(f"stateless_{rows}.jsonl"), _path(f"stateless_{rows}.csv")
    if not (os.path.exists(jsonl) and os.path.exists(csv)):
        import polars as pl

        frame = pl.from_arrow(stateless_table(rows))
        _write_once(jsonl, frame.write_ndjson)
        _write_once(csv, frame.write_csv)
        del frame
    with open(sidecar, "w") as meta:
        json.dump({"rows": rows, "jsonl": jsonl, "csv": csv}, meta)
    return {"rows": rows, "jsonl": jsonl, "csv": csv}
