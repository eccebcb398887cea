"""Projection and predicate pushdown: which columns of each source the plan's operators read,
and the plan rewritten so that file sources read only those (``"columns"`` on a source node),
projections compute only the columns someone reads, and a Parquet source whose one reader is a
filter gets its predicate (``"filter"``) to skip row groups whose statistics rule it out.

It lives here, beside the plan format, rather than in the engine, so that there is one truth:
the plan that is sent says what each source reads, the engine does what it says
(``Source::WithColumns``), and ``explain()`` shows the same list without asking the engine.
Every node's output columns are known here (the engine resolved them as the pipeline was
built), and every operator names the columns it reads in its plan fields.

Walking the nodes from the sinks back, each node's *needed* output columns are those its
consumers read; a node then reads:

=================  ==============================================================
filter             the needed columns and the predicate's
project            the columns the needed expressions refer to (others are dropped)
watermark          the needed columns and the time (and watermark) column
window, agg        keys, time column and aggregated columns (every column when its
                   late rows are read)
map_batches, sink  every column (a Python function or a sink sees whole rows)
union, join        every column (their inputs must keep their whole schemas)
=================  ==============================================================

A source of bad-row handling other than ``on_error="raise"`` reads every column, as which rows
are bad (skipped, dead letters) depends on every field; with ``"raise"``, a bad value in a
column nobody reads is not reported, as in DuckDB and polars. Set the environment variable
``MILLSTREAM_PUSHDOWN=0`` to send plans unchanged (for debugging: results must not differ).

>>> nodes = [{"id": 0, "op": "source", "inputs": [], "label": "s", "handle": 0},
...          {"id": 1, "op": "filter", "inputs": [0], "label": "f", "predicate": {"col": "b"}},
...          {"id": 2, "op": "project", "inputs": [1], "label": "p",
...           "expressions": [{"col": "a"}, {"alias": "c", "expr": {"col": "c"}}]},
...          {"id": 3, "op": "sink", "inputs": [2], "label": "collect", "sink": "collect"}]
>>> names = {0: ["a", "b", "c", "d"], 1: ["a", "b", "c", "d"], 2: ["a", "c"], 3: ["a", "c"]}
>>> source_columns(nodes, names, {0})
{0: ['a', 'b', 'c']}
"""
from __future__ import annotations

import os


def enabled() -> bool:
    """False when ``MILLSTREAM_PUSHDOWN=0`` asks for plans as declared."""
    return os.environ.get("MILLSTREAM_PUSHDOWN", "1") != "0"


def expression_columns(expression, into: set) -> set:
    """The columns an expression object (``Expr.node``) refers to, added to ``into``."""
    if isinstance(expression, dict):
        if "col" in expression:
            into.add(expression["col"])
        elif "lit" not in expression:
            for value in expression.values():
                expression_columns(value, into)
    elif isinstance(expression, list):
        for value in expression:
            expression_columns(value, into)
    return into


def needed_columns(nodes: list[dict], names: dict[int, list[str]]) -> dict[tuple[int, int], set]:
    """Per (node id, port), the output columns its consumers among ``nodes`` read. ``names``:
    per node id, its port-0 output column names. An output nobody in ``nodes`` reads (a stream
    explained before a sink is added) counts as read whole."""
    by_id = {node["id"]: node for node in nodes}
    needed: dict[tuple[int, int], set] = {}
    consumed: set[tuple[int, int]] = set()
    for node in reversed(nodes):  # consumers before their inputs
        port = node["port"] if node["op"] == "port" else 0
        output = set(names[node["id"]]) if (node["id"], 0) not in consumed \
            else needed[(node["id"], 0)]
        for index, input_id in enumerate(node["inputs"]):
            input_names = names[input_id] if port == 0 else None
            reads = _reads(node, index, output, input_names, by_id, consumed)
            key = (input_id, port)
            consumed.add(key)
            needed[key] = needed.get(key, set()) | reads
    return needed


def _reads(node: dict, input_index: int, output: set, input_names, by_id, consumed) -> set:
    """The columns of its input `input_index` that `node` reads when `output` of it is read."""
    everything = set(input_names or ())
    op = node["op"]
    if op == "filter":
        return output | expression_columns(node["predicate"], set())
    if op == "project":
        return set().union(*(expression_columns(e, set())
                             for e in _kept_expressions(node, output)))
    if op == "watermark":
        return output | {node["time_column"]}
    if op == "explicit_watermark":
        return output | {node["time_column"], node["watermark_column"]}
    if op == "port":
        return output if node["port"] == 0 else everything
    if op in ("window", "running_agg"):
        if (node["id"], 1) in consumed:  # late rows keep every input column
            return everything
        reads = set(node["keys"]) | {a["column"] for a in node["aggregates"] if a["column"]}
        if node.get("time_column"):
            reads.add(node["time_column"])
        return reads
    return everything  # map_batches, union, join, sink


def _annotated(nodes: list[dict], names: dict[int, list[str]]) -> list[dict]:
    """Projections carry their output names (``_names``), which say which expression is whose."""
    return [dict(n, _names=names[n["id"]]) if n["op"] == "project" else n for n in nodes]


def _kept_expressions(node: dict, output: set) -> list:
    """A projection's expressions whose output someone reads (at least one, so that rows keep
    their count for a count() downstream)."""
    expressions = node["expressions"]
    names = node.get("_names")
    if names is None:
        return expressions
    kept = [e for e, name in zip(expressions, names) if name in output]
    return kept or expressions[:1]


def source_columns(nodes: list[dict], names: dict[int, list[str]], narrowable: set) -> dict:
    """Per source node id in ``narrowable``, the columns it must read, in its schema's order."""
    needed = needed_columns(_annotated(nodes, names), names)
    result = {}
    for node in nodes:
        if node["op"] != "source" or node["id"] not in narrowable:
            continue
        if (node["id"], 1) in needed:  # dead letters are judged on every field
            continue
        read = needed.get((node["id"], 0), set(names[node["id"]]))
        result[node["id"]] = [n for n in names[node["id"]] if n in read] or names[node["id"]][:1]
    return result


def pushed_filters(nodes: list[dict], filterable: set) -> dict:
    """Per source node id in ``filterable`` (Parquet), the predicate of the filter that is its
    one consumer: the source skips the row groups whose statistics rule it out. A source read
    by anything else as well keeps every row group."""
    consumers: dict[int, list[dict]] = {}
    for node in nodes:
        for input_id in node["inputs"]:
            consumers.setdefault(input_id, []).append(node)
    result = {}
    for source_id in filterable:
        readers = consumers.get(source_id, [])
        if len(readers) == 1 and readers[0]["op"] == "filter":
            result[source_id] = readers[0]["predicate"]
    return result


def rewrite(nodes: list[dict], names: dict[int, list[str]], narrowable: set,
            filterable: set = frozenset()) -> list[dict]:
    """The nodes with pushdown applied: narrowable sources get ``columns``, filterable ones
    (Parquet) the ``filter`` right after them, projections keep the expressions someone reads.
    The input dicts are not changed."""
    annotated = _annotated(nodes, names)
    needed = needed_columns(annotated, names)
    columns = source_columns(nodes, names, narrowable)
    filters = pushed_filters(nodes, filterable)
    rewritten = []
    for node in annotated:
        if node["op"] == "source" and node["id"] in filters:
            node = dict(node, filter=filters[node["id"]])
        if node["op"] == "source" and node["id"] in columns:
            node = dict(node, columns=columns[node["id"]])
        elif node["op"] == "project":
            output = needed.get((node["id"], 0), set(names[node["id"]]))
            node = {k: v for k, v in node.items() if k != "_names"} | {
                "expressions": _kept_expressions(node, output)}
        rewritten.append(node)
    return rewritten
