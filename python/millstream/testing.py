"""Test helpers: a source with deterministic time (:func:`events` with :func:`watermark`
markers between rows), :func:`assert_rows_equal` (multisets, or per key in order, with a diff),
the pytest fixtures of ``millstream.pytest_plugin`` (``ms_pipeline``), and an in-process Kafka
cluster (librdkafka's mock), reachable over loopback TCP.

>>> from millstream.testing import MockKafka
>>> with MockKafka() as kafka:
...     kafka.create_topic("events", partitions=2)
...     kafka.produce("events", [{"id": 1}, {"id": 2}], partition=0)
...     [r.value for r in kafka.consume("events")]
[b'{"id": 1}', b'{"id": 2}']
"""
from __future__ import annotations

import datetime as _datetime
import json
from dataclasses import dataclass, field

from . import _core
from ._row_assertions import assert_rows_equal, rows_of  # noqa: F401 (the testing kit)
from ._test_events import Watermark, events, watermark  # noqa: F401


@dataclass
class KafkaRecord:
    """One message read back by :meth:`MockKafka.consume`."""

    key: bytes | None
    value: bytes
    partition: int
    offset: int
    timestamp_ms: int
    headers: list = field(default_factory=list)  # [(name, bytes)]

    def json(self):
        """The value decoded as JSON."""
        return json.loads(self.value)


def _to_bytes(value, what: str) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (dict, list, int, float, bool)):
        return json.dumps(value).encode()
    raise TypeError(f"MockKafka.produce: {what} must be bytes, str or JSON-able, got {type(value).__name__}")


def _timestamp_ms(value) -> int:
    if isinstance(value, _datetime.datetime):
        return int(value.timestamp() * 1000)
    return int(value)


class MockKafka:
    """librdkafka's mock Kafka cluster started in this process (a context manager).

    Any Kafka client can connect to ``bootstrap_servers``. Topics are made with
    :meth:`create_topic` (the mock does not answer CreateTopics). The mock keeps about 5 MB or
    100,000 messages per partition and drops older ones: spread large inputs over partitions.
    Fault injection: :meth:`broker_down` / :meth:`broker_up` (broker ids run from 1).
    """

    def __init__(self, brokers: int = 1):
        self._brokers = brokers
        self._cluster = None

    def __enter__(self) -> "MockKafka":
        self._cluster = _core.MockKafkaCluster(self._brokers)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stops the cluster (connected clients then see their brokers go away)."""
        self._cluster = None

    @property
    def _native(self):
        if self._cluster is None:
            raise RuntimeError("MockKafka is not running: use it in a `with` block")
        return self._cluster

    @property
    def bootstrap_servers(self) -> str:
        """``host:port,...`` of the brokers, for ``bootstrap.servers`` / ``brokers=``."""
        return self._native.bootstrap_servers

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Makes a topic with ``partitions`` partitions (before anything produces to it)."""
        self._native.create_topic(name, partitions)

    def broker_down(self, broker_id: int) -> None:
        """Drops the broker's connections and refuses new ones (its partitions keep it as leader)."""
        self._native.broker_down(broker_id)

    def broker_up(self, broker_id: int) -> None:
        """Lets the broker accept connections again after :meth:`broker_down`."""
        self._native.broker_up(broker_id)

    def produce(self, topic: str, records, key=None, partition=None, headers=None,
                timestamp=None) -> None:
        """Writes ``records`` (dicts and lists are sent as JSON, str as UTF-8, bytes as they are)
        and waits until the cluster acknowledged every one.

        ``key``, ``partition``, ``headers`` and ``timestamp`` are each a value for every record or
        a function of the record: ``key="k"`` on dict records takes the record's field ``k``.
        Without a partition the key's murmur2 hash chooses it (as Java's client does).
        ``headers``: a dict or a list of (name, value) pairs. ``timestamp``: epoch ms or a
        datetime (default: now).
        """
        items = []
        for record in records:
            record_key = _pick(key, record, field_name=True)
            record_partition = _pick(partition, record)
            record_headers = _pick(headers, record) or []
            if isinstance(record_headers, dict):
                record_headers = list(record_headers.items())
            record_timestamp = _pick(timestamp, record)
            items.append((
                _to_bytes(record_key if record_key is None or isinstance(record_key, bytes)
                          else str(record_key), "key"),
                _to_bytes(record, "a record"),
                -1 if record_partition is None else int(record_partition),
                [(str(name), _to_bytes(value, "a header")) for name, value in record_headers],
                0 if record_timestamp is None else _timestamp_ms(record_timestamp),
            ))
        self._native.produce(topic, items)

    def consume(self, topic: str, timeout: float = 30.0) -> list[KafkaRecord]:
        """Every record of ``topic`` up to the end offsets seen now, partition by partition in
        offset order. Raises if they do not all arrive within ``timeout`` seconds."""
        return [KafkaRecord(*row) for row in self._native.consume(topic, int(timeout * 1000))]


def _pick(choice, record, field_name: bool = False):
    if choice is None:
        return None
    if callable(choice):
        return choice(record)
    if field_name and isinstance(choice, str) and isinstance(record, dict):
        return record[choice]
    return choice


__all__ = ["MockKafka", "KafkaRecord",
           "events", "watermark", "Watermark", "assert_rows_equal", "rows_of"]
