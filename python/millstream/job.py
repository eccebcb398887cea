"""A run in background threads (``Pipeline.start()``) and its lifecycle."""
from __future__ import annotations

import atexit
import sys
import threading
import warnings

import pyarrow as pa


class JobStopped(Exception):
    """Raised by :meth:`Job.wait` when the run was stopped (``job.stop()``) before its end."""


class OffsetsNotCommittedWarning(UserWarning):
    """A Kafka group member stopped while its group rebalanced and could not commit the offsets
    of some partitions: their next owner reads them from the group's last committed offset, so
    the records this run read from them since are processed again (at-least-once)."""


# Jobs that were started and not yet seen to end: a started job runs to its end or until it is
# stopped, whether or not its handle is kept (a handle that was collected used to cancel the
# run). They are also the jobs interpreter exit waits for.
_live_jobs: set = set()
_live_jobs_lock = threading.Lock()


class Job:
    """A running pipeline, from ``Pipeline.start()``.

    Its ``status`` goes once from ``"running"`` to one of ``"done"`` (the run reached its end),
    ``"stopped"`` (``stop()``, or Ctrl-C during a ``wait()``) or ``"failed"`` (the run raised an
    error). Any number of threads may call ``wait()``, ``stop()``, ``done()`` and ``status`` at
    the same time:

    - ``wait(timeout=None)`` returns True when the run is done, False when ``timeout`` seconds
      passed first; raises :class:`JobStopped` when it was stopped, the run's error when it
      failed (in every thread, every time), and ``KeyboardInterrupt`` only for a Ctrl-C during
      this wait (which stops the run).
    - ``stop()`` stops the run and waits for its threads to end; a run that had already ended
      keeps its status (a failed run's error is still raised by ``wait()``).
    - A job keeps running when its handle is dropped. At interpreter exit, jobs still running
      are waited for, as Python waits for its non-daemon threads (Ctrl-C then stops them), so
      that their sinks finish; a file sink writes to a temporary name and renames it only at
      the end of a run, so a stopped or failed run never leaves a partial file under its name.

    >>> import millstream as ms
    >>> p = ms.Pipeline(parallelism=1)
    >>> p.from_records([{"x": 1}]).for_each_batch(lambda batch: None)
    >>> job = p.start()
    >>> job.wait(timeout=10), job.status
    (True, 'done')
    """

    def __init__(self, native):
        self._native = native
        self._result = None
        self._error_seen = False  # whether wait() reported the run's failure
        self._commit_warning_given = False
        with _live_jobs_lock:
            _live_jobs.add(self)

    @property
    def status(self) -> str:
        """``"running"``, ``"done"``, ``"stopped"`` or ``"failed"``."""
        return self._native.status()

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the run ends (or ``timeout`` seconds pass: then returns False); see the
        class docstring for what it raises."""
        try:
            ended = self._native.wait(timeout)
        except KeyboardInterrupt:
            self._warn_offsets_not_committed()
            raise
        except BaseException:
            self._error_seen = True
            self._forget_if_ended()
            raise
        if not ended:
            return False
        self._forget_if_ended()
        self._warn_offsets_not_committed()
        if self._native.status() == "stopped":
            raise JobStopped("the run was stopped (job.stop() or Ctrl-C) before its end")
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the run and waits up to ``timeout`` seconds for its threads to end.

        A run over an unbounded source (``read_kafka(stop=None)``) drains: its sources stop
        reading, what they read reaches the sinks (open windows close as at an end of input)
        and the offsets read are committed. A drain that takes longer than ``timeout`` is
        cancelled (nothing is committed then), and the wait goes on up to ``timeout`` again."""
        self._native.stop()
        if not self._native.wait(timeout, raise_error=False):
            self._native.cancel()
            self._native.wait(timeout, raise_error=False)
        self._forget_if_ended()
        self._warn_offsets_not_committed()

    def checkpoint(self, timeout: float = 60.0) -> int:
        """Takes a checkpoint now (the pipeline needs a ``checkpoint_dir``) and returns its id
        once it is complete; raises ValueError when it did not complete within ``timeout``
        seconds or the run ended first."""
        return self._native.checkpoint(timeout)

    def savepoint(self, path, timeout: float = 60.0) -> int:
        """Takes a checkpoint and copies it to ``path`` (which must not exist): a
        self-contained copy, kept when the checkpoints are removed, that
        ``Pipeline(restore_from=path)`` starts from. Returns the checkpoint's id."""
        import os
        return self._native.savepoint(os.fspath(path), timeout)

    def done(self) -> bool:
        """Whether the run has ended (done, stopped or failed)."""
        return self._native.done()

    def metrics(self) -> list:
        """Counters per operator, live while the job runs. A Kafka source's entry has
        ``"splits"``: per partition its ``"offset"`` (the next to read) and ``"lag"`` (messages
        behind the partition's end as last fetched; -1 before the first fetch)."""
        return self._native.metrics()

    def metrics_frame(self):
        """:meth:`metrics` as a pandas DataFrame, an operator a row (``operator`` first).

        >>> import millstream as ms
        >>> p = ms.Pipeline(parallelism=1)
        >>> p.from_records([{"x": 1}, {"x": 2}]).for_each_batch(lambda batch: None)
        >>> job = p.start()
        >>> _ = job.wait(timeout=10)
        >>> job.metrics_frame()[["operator", "rows_in", "rows_out"]]
                           operator  rows_in  rows_out
        0              from_records        0         2
        1  for_each_batch(<lambda>)        2         0
        """
        import pandas
        return pandas.DataFrame(self.metrics())

    def _warn_offsets_not_committed(self) -> None:
        """Once, after the run ended: an OffsetsNotCommittedWarning naming the Kafka partitions
        whose offsets the stop could not commit (metrics: ``partitions_not_committed``)."""
        if self._commit_warning_given or not self._native.done():
            return
        self._commit_warning_given = True
        for entry in self._native.metrics():
            partitions = entry.get("partitions_not_committed")
            if partitions:
                warnings.warn(
                    f"{entry['operator']}: the offsets of {', '.join(partitions)} were not "
                    "committed: the run stopped while its consumer group rebalanced, and the "
                    "partitions went to another member (or the group did not settle in time). "
                    "Their next owner reads them from the group's last committed offset, so the "
                    "records this run read from them since are processed again (at-least-once).",
                    OffsetsNotCommittedWarning, stacklevel=3)

    def _forget_if_ended(self) -> None:
        # A failed run whose error no wait() reported stays, to be told at exit.
        if self._native.done() and (self._native.status() != "failed" or self._error_seen):
            with _live_jobs_lock:
                _live_jobs.discard(self)

    def _results(self) -> dict:
        if self._result is None:
            self._result = self._native.result()
        return self._result

    def table(self, sink_id: int) -> pa.Table:
        """The rows a ``collect`` sink of the ended run gathered (``Pipeline.collect`` uses it;
        ``sink_id`` is the sink's node in the plan)."""
        capsule = self._results()["collected"][sink_id]
        return pa.RecordBatchReader._import_from_c_capsule(capsule).read_all()

    def result_summary(self):
        """The ended run's metrics and wall time, as :class:`RunResult` (what ``run()`` returns)."""
        from .pipeline import RunResult
        result = self._results()
        return RunResult(metrics=result["metrics"], seconds=result["seconds"])


def forget_ended_jobs() -> None:
    """Drops the jobs that ended (and whose failure, if any, was reported) from the live set."""
    with _live_jobs_lock:
        jobs = list(_live_jobs)
    for job in jobs:
        job._forget_if_ended()


@atexit.register
def _finish_live_jobs_at_exit() -> None:
    """Waits for the jobs still running (Ctrl-C stops them), and tells of failures no wait()
    reported: the engine's threads must end before the interpreter goes away, as they call
    back into Python."""
    with _live_jobs_lock:
        jobs = list(_live_jobs)
    try:
        for job in jobs:
            job._native.wait(None, raise_error=False)
    except KeyboardInterrupt:
        for job in jobs:
            job._native.stop()
        for job in jobs:
            job._native.wait(None, raise_error=False)
    for job in jobs:
        if job._native.status() == "failed" and not job._error_seen:
            try:
                job._native.wait(0, raise_error=True)
            except Exception as error:  # reported here, as nothing else will
                print(f"millstream: a job started by Pipeline.start() failed and no wait() "
                      f"reported it: {type(error).__name__}: {error}", file=sys.stderr)
