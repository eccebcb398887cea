"""What first-touch page faults cost on this machine: fills a fresh 1 GiB numpy array three times
in one process (the first fill takes memory the process never had; the later ones reuse what the
previous one freed), then the same with a buffer from pyarrow's default pool. The figures behind
"Warm runs" in README.md and RESULTS.md.

    .venv/bin/python benchmarks/first_touch.py
"""
import time

import numpy as np
import pyarrow as pa

GIB = 2**30

for _ in range(3):
    started = time.perf_counter()
    array = np.ones(GIB // 8)
    print(f"numpy: fill 1 GiB: {time.perf_counter() - started:.3f} s")
    del array
pool = pa.default_memory_pool()
for _ in range(3):
    started = time.perf_counter()
    buffer = pa.allocate_buffer(GIB, memory_pool=pool)
    np.frombuffer(buffer, dtype=np.uint8)[:] = 1
    print(f"pyarrow ({pool.backend_name}): allocate and fill 1 GiB: {time.perf_counter() - started:.3f} s")
    del buffer
