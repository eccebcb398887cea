"""The plan format: the one place that knows the shape of the nodes Python sends to the engine.

A pipeline is sent as one JSON document (``plan_json``); the engine reads it strictly
(``cpp/src/plan/plan_parser.cpp``): an unknown operator or field, a field of the wrong type, a
missing field or another format version raise :class:`millstream.PlanError` naming the node
(id, op, label) and the field. Nothing is defaulted on the C++ side, so every field below is
always sent (but a source's optional ``columns``).

Format version 1::

    {"version": 1, "parallelism": int, "max_parallelism": int,
     "state": {"kind": "memory" | "rocksdb", "directory": str, "cache_bytes": int},
     "nodes": [node, ...]}                # inputs before the nodes that read them

Every node has ``id`` (int, unique), ``op`` (str), ``inputs`` (ids of earlier nodes) and
``label`` (str: names the node in messages and metrics), and the fields of its operator:

=============  ==================================================================  ========
op             fields                                                              inputs
=============  ==================================================================  ========
source         handle: int (index into the sources passed beside the plan);       none
               columns: [str] (optional: the only columns read, in the schema's
               order; absent: all; set by _pushdown.py for file sources);
               filter: expression object (optional: Parquet row groups that no
               row of which makes it true may be skipped; the filter node after
               the source still runs)
filter         predicate: expression object (``Expr.node``)                        one
project        expressions: [expression object, ...] (one output column each)      one
map_batches    handle: int (the functions beside the plan), schema: [[name, type]] one
union          (none)                                                              one+
watermark      time_column: str, max_delay_ms: int >= 0, idle_timeout_ms: int      one
               (-1: never idle)
explicit_      time_column: str, watermark_column: str (int64 epoch ms: the        one
 watermark     watermark from that row on, null: unchanged; dropped from output)
window         keys: [str], time_column: str ("" for processing time),             one
               window: {kind: tumbling|sliding|session, size_ms, slide_ms,
               offset_ms, gap_ms: int, time: event|processing},
               allowed_lateness_ms: int >= 0, aggregates: [aggregate]
running_agg    keys: [str], aggregates: [aggregate]                                one
join           left_keys: [str], right_keys: [str] (as many, pairwise one type),       two
               left_time_column, right_time_column: str (each input's watermark
               column), lower_ms, upper_ms: int (right ts - left ts in [lower,
               upper], inclusive), how: inner|left|right|outer, suffix: str (for
               clashing right names), merge_keys: bool (keys appear once)
port           port: int (which output of the input: 1 = late rows, dead letters)  one
sink           sink: collect | callback | csv | jsonl | parquet | kafka;                 one
               path: str (csv, jsonl, parquet); handle: int (callback, kafka)
=============  ==================================================================  ========

An aggregate is ``{"kind": str, "column": str ("" counts rows), "name": str}``. Types in a
``map_batches`` schema are spelled as Arrow prints them ("int64", "timestamp[ms, tz=UTC]").
``_core.resolve`` takes one node as ``{"version": 1, "node": node}``.

>>> node = filter_node({"col": "x"}, "filter(x)")
>>> node.to_dict(3, [2])
{'id': 3, 'op': 'filter', 'inputs': [2], 'label': 'filter(x)', 'predicate': {'col': 'x'}}
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa

from ._types import type_spec

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Node:
    """One plan node before it has an id and inputs: its operator, label and fields."""

    op: str
    label: str
    fields: dict

    def to_dict(self, node_id: int, inputs: list[int]) -> dict:
        return {"id": node_id, "op": self.op, "inputs": list(inputs), "label": self.label,
                **self.fields}

    @property
    def consumed_port(self) -> int:
        """Which output of its input the node reads (a port node's port, else 0)."""
        return self.fields["port"] if self.op == "port" else 0


def source_node(handle: int, label: str) -> Node:
    return Node("source", label, {"handle": handle})


def filter_node(predicate: dict, label: str) -> Node:
    return Node("filter", label, {"predicate": predicate})


def project_node(expressions: list[dict], label: str) -> Node:
    return Node("project", label, {"expressions": list(expressions)})


def map_batches_node(handle: int, schema: pa.Schema, label: str) -> Node:
    return Node("map_batches", label,
                {"handle": handle, "schema": [[f.name, type_spec(f.type)] for f in schema]})


def union_node() -> Node:
    return Node("union", "union", {})


def watermark_node(time_column: str, max_delay_ms: int, idle_timeout_ms: int | None,
                   label: str) -> Node:
    return Node("watermark", label, {
        "time_column": time_column, "max_delay_ms": max_delay_ms,
        "idle_timeout_ms": -1 if idle_timeout_ms is None else idle_timeout_ms})


def explicit_watermark_node(time_column: str, watermark_column: str, label: str) -> Node:
    return Node("explicit_watermark", label,
                {"time_column": time_column, "watermark_column": watermark_column})


def window_node(keys: list[str], time_column: str | None, window: dict,
                allowed_lateness_ms: int, aggregates: list[dict], label: str) -> Node:
    return Node("window", label, {
        "keys": list(keys), "time_column": time_column or "", "window": dict(window),
        "allowed_lateness_ms": allowed_lateness_ms, "aggregates": list(aggregates)})


def running_agg_node(keys: list[str], aggregates: list[dict], label: str) -> Node:
    return Node("running_agg", label, {"keys": list(keys), "aggregates": list(aggregates)})


def join_node(left_keys: list[str], right_keys: list[str], left_time_column: str,
              right_time_column: str, lower_ms: int, upper_ms: int, how: str, suffix: str,
              merge_keys: bool, label: str) -> Node:
    return Node("join", label, {
        "left_keys": list(left_keys), "right_keys": list(right_keys),
        "left_time_column": left_time_column, "right_time_column": right_time_column,
        "lower_ms": lower_ms, "upper_ms": upper_ms, "how": how, "suffix": suffix,
        "merge_keys": merge_keys})


def port_node(port: int, label: str) -> Node:
    return Node("port", label, {"port": port})


def collect_sink_node() -> Node:
    return Node("sink", "collect", {"sink": "collect"})


def callback_sink_node(handle: int, label: str) -> Node:
    return Node("sink", label, {"sink": "callback", "handle": handle})


def kafka_sink_node(handle: int, label: str) -> Node:
    return Node("sink", label, {"sink": "kafka", "handle": handle})


def file_sink_node(kind: str, path: str, label: str) -> Node:
    return Node("sink", label, {"sink": kind, "path": path})


def plan_json(nodes: list[dict], parallelism: int, max_parallelism: int, state: str,
              state_dir: str | None, state_memory_bytes: int) -> str:
    """The whole plan, ``nodes`` being ``Node.to_dict`` results in topological order."""
    return json.dumps({
        "version": FORMAT_VERSION, "parallelism": parallelism, "max_parallelism": max_parallelism,
        "state": {"kind": state, "directory": state_dir or "", "cache_bytes": state_memory_bytes},
        "nodes": nodes,
    })


def node_document_json(node: dict) -> str:
    """One node for ``_core.resolve``."""
    return json.dumps({"version": FORMAT_VERSION, "node": node})
