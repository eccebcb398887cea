"""millstream: stream processing for Python with a C++ core.

Pipelines are declared in Python and run by a native engine (oneTBB, RocksDB, Arrow):

>>> import millstream as ms
>>> p = ms.Pipeline(parallelism=1)
>>> p.from_records([{"k": "a", "x": 1}, {"k": "b", "x": 2}]).filter(ms.col("x") > 1).to_pandas()
   k  x
0  b  2
"""
import pyarrow as _pyarrow  # loads libarrow, which the native module links against

from . import _core  # noqa: E402
from ._core import PlanError  # noqa: E402

PlanError.__doc__ = """A plan the engine cannot run, raised where the pipeline is declared or
started: an unknown operator or field, a wrong type, a plan of another format version; the
message names the node and the field. A ``ValueError``."""
from ._types import DataType, bool_, float64, int64, string, timestamp  # noqa: E402
from .expr import Expr, col, from_epoch, lit, when  # noqa: E402
from .job import Job, JobStopped  # noqa: E402
from .pipeline import KeyedStream, Pipeline, RunResult, Stream, WindowedStream  # noqa: E402
from .windows import (collect_list, count, count_distinct, first, last, max, mean, min,  # noqa: E402
                      session, sliding, stddev, sum, tumbling, var)

__version__ = "0.1.0"
__all__ = [
    "Pipeline", "Stream", "KeyedStream", "WindowedStream", "Job", "JobStopped", "RunResult",
    "PlanError", "Expr", "DataType",
    "col", "lit", "when", "from_epoch", "int64", "float64", "bool_", "string", "timestamp",
    "tumbling", "sliding", "session", "count", "sum", "min", "max", "mean", "first", "last",
    "count_distinct", "stddev", "var", "collect_list",
]
