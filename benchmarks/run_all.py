"""Runs every benchmark (`make bench`): stateless.py, then windows.py, each printing its table.

Nothing is written to RESULTS.md automatically: copy a table there by hand, with the command that
printed it, after a run on a quiet machine.

    .venv/bin/python benchmarks/run_all.py            # full size (generates ~4 GB of data once)
    .venv/bin/python benchmarks/run_all.py --quick    # 2 M rows each, a 200 MB JSONL file
    .venv/bin/python benchmarks/run_all.py --engines-peers-only   # pandas / polars / DuckDB only
Other options (--parallelism, --processes, --timeout-s, --rss-limit-gb, --quiet-wait-s) go to both scripts.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QUICK = {"stateless.py": ["--rows", "2000000", "--jsonl-gb", "0.2"],
         "windows.py": ["--rows", "2000000"]}
PEERS = {"stateless.py": ["--engines", "duckdb,polars,polars-lazy,pandas"],
         "windows.py": ["--engines", "duckdb,polars"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small inputs: checks that everything runs")
    parser.add_argument("--engines-peers-only", action="store_true", help="skip millstream")
    args, passed_on = parser.parse_known_args()
    failed = []
    for script in ("stateless.py", "windows.py"):
        command = [sys.executable, os.path.join(HERE, script)] + passed_on
        command += QUICK[script] if args.quick else []
        command += PEERS[script] if args.engines_peers_only else []
        print(f"\n# {' '.join(os.path.relpath(part) if part.endswith('.py') else part for part in command[1:])}",
              flush=True)
        started = time.perf_counter()
        returncode = subprocess.call(command)
        print(f"\n({script} took {time.perf_counter() - started:.0f} s)", flush=True)
        if returncode != 0:
            failed.append(f"{script} exited with {returncode}")
    for message in failed:
        print(f"FAILED: {message}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
