"""Consumer groups: unbounded runs of one group in several processes share a topic's partitions
(cooperative-sticky), and a member that dies or stops hands its partitions to the others.
MockKafka lives in the test process; the members are subprocesses reaching it over TCP. Every
wait is bounded."""
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

import millstream as ms

from test_kafka import kafka, new_topic  # noqa: F401 (kafka is a fixture)
from test_kafka_stream import committed_offsets

PARTITIONS = 6

MEMBER_SCRIPT = textwrap.dedent("""
    import sys
    import warnings
    import millstream as ms
    brokers, topic, group = sys.argv[1:]
    p = ms.Pipeline(parallelism=2)
    def take(batch):
        pairs = zip(batch.column("partition").to_pylist(), batch.column("id").to_pylist())
        print("ids " + " ".join(f"{partition}:{i}" for partition, i in pairs), flush=True)
    # Short group timeouts: the mock cluster otherwise takes ~45 s to rebalance (BUILD-NOTES.md).
    p.read_kafka(topic, brokers=brokers, group=group, stop=None, schema={"id": "int64"},
                 metadata=["partition"], join_group=True,
                 config={"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}
                 ).for_each_batch(take)
    job = p.start()
    print("started", flush=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            job.wait()
        except KeyboardInterrupt:
            print(f"interrupted {job.status}", flush=True)
    for warning in caught:
        print("warning " + " ".join(str(warning.message).split()), flush=True)
""")


class Member:
    """One process of the group, its output read by a thread (so that waits stay bounded)."""

    def __init__(self, kafka, topic, group):
        self.process = subprocess.Popen([sys.executable, "-c", MEMBER_SCRIPT,
                                         kafka.bootstrap_servers, topic, group],
                                        stdout=subprocess.PIPE, text=True)
        self.lock = threading.Lock()
        self.lines = []
        self.ids = []          # in output order, repeats kept
        self.partitions = {}   # id -> partition
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            line = line.strip()
            with self.lock:
                self.lines.append(line)
                if line.startswith("ids "):
                    for pair in line[4:].split():
                        partition, i = map(int, pair.split(":"))
                        self.ids.append(i)
                        self.partitions[i] = partition

    def taken(self):
        with self.lock:
            return list(self.ids)

    def wait_for_line(self, expected, timeout=30.0):
        wait_until(lambda: expected in self.lines, timeout, f"the member to print {expected!r}")

    def interrupt(self):
        """Ctrl-C: the job drains, commits and the process leaves the group."""
        self.process.send_signal(signal.SIGINT)
        self.wait_for_line("interrupted stopped")
        self.process.wait(timeout=30)

    def end(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Producer:
    """Records {"id": i} with ids counting up, record i into partition i % PARTITIONS."""

    def __init__(self, kafka, topic):
        self.kafka, self.topic, self.count = kafka, topic, 0

    def produce(self, n):
        ids = range(self.count, self.count + n)
        self.kafka.produce(self.topic, [{"id": i} for i in ids],
                           partition=lambda r: r["id"] % PARTITIONS)
        self.count += n
        return set(ids)


def settle(producer, members, timeout=40.0):
    """Produces a record per partition now and then until every member has output some: the
    group has then shared the partitions among them. Returns the ids produced."""
    produced = set()
    deadline = time.monotonic() + timeout
    while not all(member.taken() for member in members):
        assert time.monotonic() < deadline, "the group did not share the partitions in time"
        produced |= producer.produce(PARTITIONS)
        time.sleep(0.3)
    return produced


def covered(members, ids):
    return lambda: ids <= set().union(*(set(member.taken()) for member in members))


def assert_each_partition_read_by_one(outputs, ids):
    """Of `ids` (record i is in partition i % PARTITIONS), each partition's are in one of the
    outputs only, and every output has some."""
    owners = {}
    for index, output in enumerate(outputs):
        for i in ids & set(output):
            owners.setdefault(i % PARTITIONS, set()).add(index)
    assert sorted(owners) == list(range(PARTITIONS))
    assert all(len(indexes) == 1 for indexes in owners.values()), owners
    assert set().union(*owners.values()) == set(range(len(outputs))), owners


def assert_committed_to_the_end(kafka, topic, group, ids):
    assert committed_offsets(kafka, topic, group, PARTITIONS) == [
        sum(1 for i in ids if i % PARTITIONS == p) for p in range(PARTITIONS)]


class GroupOfTwo:
    """Members a and b of a new group on a new topic of PARTITIONS partitions."""

    def __init__(self, kafka):
        self.topic = new_topic(kafka, PARTITIONS)
        self.group = f"g-{uuid.uuid4().hex[:8]}"
        self.producer = Producer(kafka, self.topic)
        self.a = Member(kafka, self.topic, self.group)
        self.b = Member(kafka, self.topic, self.group)

    def share(self):
        """Waits until both members read, then produces 600 records and waits until they were
        output. Returns the ids produced while the group settled, and the 600."""
        self.a.wait_for_line("started")
        self.b.wait_for_line("started")
        warm_up = settle(self.producer, [self.a, self.b])
        shared = self.producer.produce(600)
        wait_until(covered([self.a, self.b], shared), 30, "the 600 records shared by both")
        return warm_up, shared


@pytest.fixture
def two(kafka):
    members = GroupOfTwo(kafka)
    try:
        yield members
    finally:
        members.a.end()
        members.b.end()


def test_a_member_killed_mid_run_leaves_its_partitions_to_the_other(kafka, two):
    topic, group, producer, a, b = two.topic, two.group, two.producer, two.a, two.b
    _, shared = two.share()
    b_before_kill = b.taken()
    a.process.kill()  # no drain, no commit, no leaving the group: its session times out
    a.process.wait(timeout=10)
    after = producer.produce(600)
    wait_until(covered([b], after | shared), 60, "b to take over a's partitions")
    b.interrupt()

    everything = set(range(producer.count))
    assert set(a.taken()) | set(b.taken()) == everything
    assert all(partition == i % PARTITIONS for member in (a, b)
               for i, partition in member.partitions.items())
    # While both ran, each partition was read by one member, and each member had some.
    assert_each_partition_read_by_one([a.taken(), b_before_kill], shared)
    # Neither member output a record twice itself.
    assert len(a.taken()) == len(set(a.taken()))
    assert len(b.taken()) == len(set(b.taken()))
    # a was killed before committing anything (commits happen when a run drains): all it output
    # is the uncommitted tail, read again by b, and nothing else is repeated.
    assert set(a.taken()) & set(b.taken()) == set(a.taken())
    # b drained and committed every partition to its end.
    assert_committed_to_the_end(kafka, topic, group, everything)


def test_a_member_that_stops_commits_and_the_other_resumes_from_its_offsets(kafka, two):
    topic, group, producer, a, b = two.topic, two.group, two.producer, two.a, two.b
    warm_up, shared = two.share()
    a.interrupt()  # drains, commits, leaves the group
    after = producer.produce(600)
    wait_until(covered([b], after), 60, "b to take over a's partitions")
    b.interrupt()

    everything = set(range(producer.count))
    assert set(a.taken()) | set(b.taken()) == everything
    assert_each_partition_read_by_one([a.taken(), b.taken()], shared)
    # b resumed a's partitions at the offsets a committed: after the group settled, no record
    # was output twice. (While it settled, partitions moved from a to b before a committed.)
    repeated = set(a.taken()) & set(b.taken())
    assert repeated <= warm_up
    assert len(b.taken()) == len(set(b.taken()))
    assert_committed_to_the_end(kafka, topic, group, everything)


def test_a_member_stopped_while_a_second_joins_ends_stopped_and_names_what_it_did_not_commit(kafka):
    """Ctrl-C on a member while the group rebalances for a joining one: the final commit is
    refused ("group generation id is not valid" / "rebalance in progress") until the member
    rejoins; it retries, commits the partitions it still owns, and ends 'stopped' with a warning
    naming the partitions that went to the other member uncommitted, which that member reads
    again from the group's last commit. Nothing is lost."""
    topic = new_topic(kafka, PARTITIONS)
    group = f"g-{uuid.uuid4().hex[:8]}"
    producer = Producer(kafka, topic)
    a = Member(kafka, topic, group)
    b = None
    try:
        a.wait_for_line("started")
        settle(producer, [a])
        alone = producer.produce(300)
        wait_until(covered([a], alone), 30, "a to output the records while alone in the group")
        b = Member(kafka, topic, group)
        b.wait_for_line("started")
        time.sleep(1.0)  # b's JoinGroup is in: a's next heartbeat (every 500 ms) sees the rebalance
        a.interrupt()  # asserts "interrupted stopped" (it was "interrupted failed")
        wait_until(lambda: any(line.startswith("warning ") for line in a.lines), 10,
                   "a to print the warning it was given")
        warned = [line for line in a.lines if line.startswith("warning ")]
        assert len(warned) == 1, a.lines
        named = re.findall(re.escape(topic) + r"\[(\d+)\]", warned[0])
        assert named and "were not committed" in warned[0] and "processed again" in warned[0]
        not_committed = {int(partition) for partition in named}

        after = producer.produce(600)
        wait_until(covered([b], after), 60, "b to take over every partition")
        b.interrupt()
    finally:
        a.end()
        if b is not None:
            b.end()

    everything = set(range(producer.count))
    assert set(a.taken()) | set(b.taken()) == everything  # nothing lost
    # What a read of the partitions it did not commit, b read again from the last commit (none:
    # a is the group's first member), so all of it is in b's output too.
    assert {i for i in a.taken() if i % PARTITIONS in not_committed} <= set(b.taken())
    assert_committed_to_the_end(kafka, topic, group, everything)


def test_join_group_needs_a_group_and_an_unbounded_run(kafka):
    topic = new_topic(kafka, 1)
    p = ms.Pipeline()
    with pytest.raises(ValueError, match=r"read_kafka\(.*join_group=True .*pass group=\.\.\. and stop=None"):
        p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema={"id": "int64"}, stop=None,
                     join_group=True)
    with pytest.raises(ValueError, match="join_group=True"):
        p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema={"id": "int64"}, group="g",
                     join_group=True)  # stop="end"
