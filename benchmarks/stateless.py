"""Stateless throughput: millstream against pandas, polars and DuckDB doing the same work.

Cases (the same rows for every engine; input rows count for rows/s):
  in_memory  20 M rows already in memory -> filter price > 100 (about 50%) -> 3 arithmetic and 1
             string expression (price*qty, price*0.9, qty+1, name.upper()) -> collect.
             Each engine starts from its own in-memory form, made before the clock starts: a
             pyarrow Table for millstream (from_arrow is timed), a native DuckDB table, a polars
             DataFrame, a pandas DataFrame.
  jsonl      read a ~2 GB JSONL file with a declared schema -> filter price > 100 -> collect.
  csv        the same rows as CSV -> filter price > 100 -> collect.

Every measurement runs in its own process (harness.py); each engine's result is checked against
DuckDB's (row count, column names, exact integer sums, float sums, string hashes, upper-casing).

    .venv/bin/python benchmarks/stateless.py                 # full size
    .venv/bin/python benchmarks/stateless.py --rows 2000000 --jsonl-gb 0.2   # a quick run
"""
from __future__ import annotations

import os

import harness
from harness import exact_sum, float_sum, string_fingerprint

CASES = ("in_memory", "jsonl", "csv")
ENGINES = ("millstream", "duckdb", "polars", "polars-lazy", "pandas")
SINGLE_THREADED = {"pandas"}
REFERENCE_ENGINES = ("duckdb", "polars-lazy", "polars", "pandas", "millstream")
PRICE_ABOVE = 100.0
DUCKDB_COLUMNS = "{'id': 'BIGINT', 'price': 'DOUBLE', 'qty': 'BIGINT', 'category': 'VARCHAR', 'name': 'VARCHAR'}"
PANDAS_DTYPES = {"id": "int64", "price": "float64", "qty": "int64", "category": "str", "name": "str"}
PANDAS_JSON_CHUNK_ROWS = 1_000_000  # pandas' JSON reader holds every parsed object: read in chunks
DUCKDB_IN_MEMORY_SQL = f"""
    SELECT *, price * qty AS amount, price * 0.9 AS discounted, qty + 1 AS qty_next,
           upper(name) AS name_upper
    FROM sales WHERE price > {PRICE_ABOVE}"""


# ---------------------------------------------------------------------------------------------
# the child: one engine, one case, one parallelism


def run_one(spec: dict) -> dict:
    engine, case, parallelism = spec["engine"], spec["case"], int(spec["parallelism"])
    ms = harness.import_millstream() if engine == "millstream" else None  # fail fast, before loading
    harness.limit_arrow_threads(parallelism)
    if case == "in_memory":
        query = _in_memory_query(engine, parallelism, spec["path"], ms)
    else:
        query = _file_query(engine, case, parallelism, spec["path"], ms)
    return harness.timed_result(query, spec, checksum)


def _in_memory_query(engine: str, parallelism: int, path: str, ms):
    """Loads the input in the engine's own in-memory form (not timed); returns the timed query."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if engine == "millstream":
        col = ms.col
        return lambda: (ms.Pipeline(parallelism=parallelism).from_arrow(table)
                        .filter(col("price") > PRICE_ABOVE)
                        .with_columns(amount=col("price") * col("qty"), discounted=col("price") * 0.9,
                                      qty_next=col("qty") + 1, name_upper=col("name").str.upper())
                        .collect())
    if engine == "duckdb":
        connection = harness.duckdb_connection(parallelism, {"sales": table})
        return lambda: connection.sql(DUCKDB_IN_MEMORY_SQL).to_arrow_table()
    if engine in ("polars", "polars-lazy"):
        import polars as pl

        frame = pl.from_arrow(table)
        expressions = dict(amount=pl.col("price") * pl.col("qty"), discounted=pl.col("price") * 0.9,
                           qty_next=pl.col("qty") + 1, name_upper=pl.col("name").str.to_uppercase())
        if engine == "polars":
            return lambda: frame.filter(pl.col("price") > PRICE_ABOVE).with_columns(**expressions)
        return lambda: frame.lazy().filter(pl.col("price") > PRICE_ABOVE).with_columns(**expressions).collect()
    if engine == "pandas":
        frame = table.to_pandas()

        def pandas_query():
            kept = frame[frame["price"] > PRICE_ABOVE]
            return kept.assign(amount=kept["price"] * kept["qty"], discounted=kept["price"] * 0.9,
                               qty_next=kept["qty"] + 1, name_upper=kept["name"].str.upper())
        return pandas_query
    raise ValueError(f"unknown engine {engine!r}")


def _file_query(engine: str, case: str, parallelism: int, path: str, ms):
    from stateless_data import SCHEMA

    if engine == "millstream":
        def millstream_query():
            pipeline = ms.Pipeline(parallelism=parallelism)
            reader = pipeline.read_jsonl if case == "jsonl" else pipeline.read_csv
            return reader(path, schema=SCHEMA).filter(ms.col("price") > PRICE_ABOVE).collect()
        return millstream_query
    if engine == "duckdb":
        connection = harness.duckdb_connection(parallelism)
        if case == "jsonl":
            source = f"read_json('{path}', format = 'newline_delimited', columns = {DUCKDB_COLUMNS})"
        else:
            source = (f"read_csv('{path}', header = true, delim = ',', quote = '\"', "
                      f"columns = {DUCKDB_COLUMNS})")
        return lambda: connection.sql(f"SELECT * FROM {source} WHERE price > {PRICE_ABOVE}").to_arrow_table()
    if engine in ("polars", "polars-lazy"):
        import polars as pl

        schema = pl.Schema({"id": pl.Int64, "price": pl.Float64, "qty": pl.Int64,
                            "category": pl.String, "name": pl.String})
        keep = pl.col("price") > PRICE_ABOVE
        if engine == "polars":
            read = pl.read_ndjson if case == "jsonl" else pl.read_csv
            return lambda: read(path, schema=schema).filter(keep)
        scan = pl.scan_ndjson if case == "jsonl" else pl.scan_csv
        return lambda: scan(path, schema=schema).filter(keep).collect()
    if engine == "pandas":
        import pandas as pd

        if case == "csv":
            def pandas_csv():
                frame = pd.read_csv(path, dtype=PANDAS_DTYPES)
                return frame[frame["price"] > PRICE_ABOVE]
            return pandas_csv

        def pandas_jsonl():
            kept = []
            with pd.read_json(path, lines=True, dtype=PANDAS_DTYPES, convert_dates=False,
                              chunksize=PANDAS_JSON_CHUNK_ROWS) as chunks:
                for chunk in chunks:
                    kept.append(chunk[chunk["price"] > PRICE_ABOVE])
            return pd.concat(kept, ignore_index=True)
        return pandas_jsonl
    raise ValueError(f"unknown engine {engine!r}")


def checksum(table, case: str) -> dict:
    """Row count, column names and sums that any difference in the rows would change."""
    import pyarrow.compute as pc

    summary = {"rows": table.num_rows, "columns": ",".join(table.column_names),
               "id_sum": exact_sum(table["id"]), "qty_sum": exact_sum(table["qty"]),
               "price_sum": float_sum(table["price"]),
               "name_chars": exact_sum(pc.utf8_length(table["name"])),
               "name_fingerprint": string_fingerprint(table["name"]),
               "category_fingerprint": string_fingerprint(table["category"])}
    if case == "in_memory":
        name_upper = table["name_upper"]
        summary.update(
            amount_sum=float_sum(table["amount"]), discounted_sum=float_sum(table["discounted"]),
            qty_next_sum=exact_sum(table["qty_next"]),
            name_upper_fingerprint=string_fingerprint(name_upper),
            # pyarrow's utf8_upper is the independent reference for the string expression
            name_upper_same_as_reference=exact_sum(
                pc.equal(name_upper.cast("string"), pc.utf8_upper(table["name"].cast("string"))).cast("int64")))
    return summary


# ---------------------------------------------------------------------------------------------
# the parent


def measure_and_report(args) -> None:
    from stateless_data import ensure_parquet, ensure_text_files

    inputs = {}
    if "in_memory" in args.cases:
        inputs["in_memory"] = (harness.in_fresh_process(ensure_parquet, args.rows), args.rows)
    if {"jsonl", "csv"} & set(args.cases):
        text = harness.in_fresh_process(ensure_text_files, int(args.jsonl_gb * 1e9))
        inputs["jsonl"] = (text["jsonl"], text["rows"])
        inputs["csv"] = (text["csv"], text["rows"])
    for case in args.cases:
        path, rows = inputs[case]
        print(f"{case}: {rows:,} rows from {os.path.relpath(path)} "
              f"({os.path.getsize(path) / 2**20:,.0f} MiB)")
    measurements = harness.measure_all(os.path.abspath(__file__), args, inputs, SINGLE_THREADED)
    harness.print_report(
        measurements, args, millstream_engines=["millstream"], reference_engines=REFERENCE_ENGINES,
        title=f"Stateless (repeat={args.repeat}, processes={args.processes}, best run; input rows count for rows/s; "
              f"millstream/peer = millstream rows/s / peer rows/s at the same P)",
        targets=target_lines(measurements))


def _best_polars(measurements, case: str, parallelism: int):
    runs = [harness.find(measurements, case, engine, parallelism) for engine in ("polars", "polars-lazy")]
    runs = [m for m in runs if m is not None]
    return max(runs, key=lambda m: m.rows_per_second) if runs else None


def target_lines(measurements: list) -> list[str]:
    find, line = harness.find, harness.target_line
    ms_one, ms_two = find(measurements, "in_memory", "millstream", 1), find(measurements, "in_memory", "millstream", 2)
    lines = [line("(1) in_memory: millstream P=1 / faster polars P=1", ms_one,
                  _best_polars(measurements, "in_memory", 1), 1.0),
             line("(1) in_memory: millstream speed-up P=1 -> P=2", ms_two, ms_one, 1.8)]
    for number, case in ((2, "jsonl"), (3, "csv")):
        for parallelism in (1, 2):
            ms_run = find(measurements, case, "millstream", parallelism)
            lines.append(line(f"({number}) {case}: millstream P={parallelism} / pandas", ms_run,
                              find(measurements, case, "pandas", 1), 5.0))
            lines.append(line(f"({number}) {case}: millstream P={parallelism} / faster polars P={parallelism}",
                              ms_run, _best_polars(measurements, case, parallelism), 1.0))
    return lines


def parse_args():
    parser = harness.argument_parser(__doc__, CASES, ENGINES, default_repeat=3)
    parser.add_argument("--rows", type=int, default=20_000_000, help="rows of the in-memory case")
    parser.add_argument("--jsonl-gb", type=float, default=2.0,
                        help="size of the JSONL file in GB (1e9 bytes); the CSV file has the same rows")
    return parser.parse_args()


if __name__ == "__main__":
    harness.script_main(run_one, parse_args, measure_and_report)
