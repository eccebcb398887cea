"""pytest fixtures for testing pipelines: registered as a pytest plugin when millstream is
installed (entry point ``pytest11``); from a source checkout, add
``pytest_plugins = ["millstream.pytest_plugin"]`` to the top-level ``conftest.py``.

- ``ms_pipeline``: a fresh :class:`millstream.Pipeline`, once per configuration a result must
  not depend on: parallelism 1 with the memory backend, parallelism 2 with RocksDB (its state in
  the test's temporary directory) and batches of 3 rows, parallelism 4 with batches of 1 row.
  A test that uses it runs three times.
- ``mock_kafka``: a running :class:`millstream.testing.MockKafka` (one broker), stopped after
  the test.
"""
from __future__ import annotations

import pytest

# (id, parallelism, state backend, batch size): the configurations ms_pipeline runs a test in.
PIPELINE_CONFIGS = [
    ("p1-memory", 1, "memory", None),
    ("p2-rocksdb-batch3", 2, "rocksdb", 3),
    ("p4-memory-batch1", 4, "memory", 1),
]


@pytest.fixture(params=PIPELINE_CONFIGS, ids=[config[0] for config in PIPELINE_CONFIGS])
def ms_pipeline(request, tmp_path):
    """A new Pipeline in each of PIPELINE_CONFIGS."""
    import millstream as ms
    _, parallelism, state, batch_size = request.param
    return ms.Pipeline(parallelism=parallelism, state=state, batch_size=batch_size,
                       state_dir=str(tmp_path / "state") if state == "rocksdb" else None)


@pytest.fixture
def mock_kafka():
    """librdkafka's mock cluster, for the length of the test."""
    from millstream.testing import MockKafka
    with MockKafka() as kafka:
        yield kafka
