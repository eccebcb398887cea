"""The in-memory stateless query of stateless.py at the given parallelisms, twice each, with wall
and CPU time: the script profiled with `perf record -g` in RESULTS.md.

    .venv/bin/python benchmarks/in_memory_profile.py 1 2
"""
import os
import sys
import time

import pyarrow.parquet as pq, millstream as ms
from millstream import col
# the input stateless.py generates (run it once first)
t = pq.read_table(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "stateless_20000000.parquet"))
print(t.schema, t.column(0).num_chunks)
for P in [int(x) for x in sys.argv[1:]]:
    for _ in range(2):
        t0 = time.perf_counter(); c0 = time.process_time()
        out = (ms.Pipeline(parallelism=P).from_arrow(t).filter(col("price") > 100)
               .with_columns(amount=col("price") * col("qty"), d=col("price") * 0.9, q=col("qty") + 1,
                             u=col("name").str.upper()).collect())
        print(P, round(time.perf_counter() - t0, 2), "s wall", round(time.process_time() - c0, 2), "s cpu", out.num_rows)
