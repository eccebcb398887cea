"""The Kafka source (read_kafka, stop="end") and the MockKafka test cluster, checked against an
independent client (confluent-kafka) and plain-Python references, on loopback only."""
import csv
import datetime
import io
import json
import random
import uuid

import pyarrow as pa
import pytest

import confluent_kafka  # an independent client (requirements-dev.txt): a missing one fails
import millstream as ms
from millstream.testing import MockKafka
from reference import window_reference
from test_windows import BACKENDS, assert_same, random_rows, result_dict


SCHEMA = {"key": "string", "value": "float64", "ts": "int64"}


@pytest.fixture(scope="module")
def kafka():
    with MockKafka() as cluster:
        yield cluster


def new_topic(kafka, partitions):
    name = f"t-{uuid.uuid4().hex[:10]}"
    kafka.create_topic(name, partitions)
    return name


def read(kafka, topic, parallelism=2, **options):
    options.setdefault("schema", SCHEMA)
    p = ms.Pipeline(parallelism=parallelism, **options.pop("pipeline", {}))
    return p.read_kafka(topic, brokers=kafka.bootstrap_servers, **options)


def spread(rows, partitions, seed, skew=False):
    """(partition, row) for each row: random partitions, the first holding most with `skew`."""
    rng = random.Random(seed)
    weights = [8 if skew and p == 0 else 1 for p in range(partitions)]
    return [(rng.choices(range(partitions), weights)[0], row) for row in rows]


def produce_spread(kafka, topic, placed):
    by_partition = {}
    for partition, row in placed:
        by_partition.setdefault(partition, []).append(row)
    for partition, rows in by_partition.items():
        kafka.produce(topic, rows, partition=partition)


# ----- MockKafka against confluent-kafka ---------------------------------------------------------

def test_mock_kafka_reads_what_confluent_kafka_writes(kafka):
    topic = new_topic(kafka, 3)
    producer = confluent_kafka.Producer({"bootstrap.servers": kafka.bootstrap_servers})
    sent = []
    for i in range(30):
        key, value, partition = f"k{i % 7}".encode(), f"v{i}".encode(), i % 3
        headers = [("n", str(i).encode()), ("tag", b"\x00\xff")]
        producer.produce(topic, value=value, key=key, partition=partition, headers=headers)
        sent.append((partition, key, value, headers))
    assert producer.flush(30) == 0
    got = kafka.consume(topic)
    assert [(r.partition, r.key, r.value, r.headers) for r in got] == \
        sorted(sent, key=lambda s: (s[0], int(s[2][1:])))
    assert all(r.offset == i for p in range(3)
               for i, r in enumerate([r for r in got if r.partition == p]))


def test_confluent_kafka_reads_what_mock_kafka_writes(kafka):
    topic = new_topic(kafka, 4)
    records = [{"id": i, "name": f"n{i}"} for i in range(40)]
    kafka.produce(topic, records, key=lambda r: f"user{r['id'] % 5}",
                  headers=lambda r: {"origin": "test", "id": str(r["id"])})
    consumer = confluent_kafka.Consumer({"bootstrap.servers": kafka.bootstrap_servers,
                                         "group.id": "interop", "enable.partition.eof": True})
    consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(4)])
    got, ended = [], set()
    for _ in range(200):  # bounded: 200 polls of at most 0.5 s
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            assert message.error().code() == confluent_kafka.KafkaError._PARTITION_EOF
            ended.add(message.partition())
            if len(ended) == 4 and len(got) == len(records):
                break
            continue
        got.append(message)
    consumer.close()
    assert sorted(json.loads(m.value())["id"] for m in got) == list(range(40))
    for message in got:
        record = json.loads(message.value())
        assert message.key() == f"user{record['id'] % 5}".encode()
        assert message.headers() == [("origin", b"test"), ("id", str(record["id"]).encode())]
    # Keys choose partitions with murmur2, as Java's client (and librdkafka's murmur2_random) do.
    partition_of_key = {}
    for message in got:
        assert partition_of_key.setdefault(message.key(), message.partition()) == message.partition()
    producer = confluent_kafka.Producer({"bootstrap.servers": kafka.bootstrap_servers,
                                         "partitioner": "murmur2_random"})
    delivered = {}
    for key in partition_of_key:
        producer.produce(topic, value=b"x", key=key,
                         on_delivery=lambda err, m: delivered.__setitem__(m.key(), m.partition()))
    assert producer.flush(30) == 0
    assert delivered == partition_of_key


# ----- read_kafka ----------------------------------------------------------------------------------

@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_json_messages_with_metadata(kafka, parallelism):
    topic = new_topic(kafka, 3)
    rows = random_rows(500, seed=parallelism)
    placed = spread(rows, 3, seed=parallelism)
    produce_spread(kafka, topic, placed)
    expected = kafka.consume(topic)
    got = read(kafka, topic, parallelism, metadata=["partition", "offset", "timestamp"]).collect()
    assert got.schema.names == ["key", "value", "ts", "partition", "offset", "timestamp"]
    assert got.schema.field("partition").type == pa.int64()
    assert got.schema.field("timestamp").type == pa.timestamp("ms")
    # Each partition's rows in offset order, partitions in turn.
    assert [(r["partition"], r["offset"]) for r in got.to_pylist()] == \
        [(r.partition, r.offset) for r in expected]
    assert [{k: r[k] for k in SCHEMA} for r in got.to_pylist()] == [r.json() for r in expected]


def test_small_batches_take_every_message(kafka):
    topic = new_topic(kafka, 2)
    rows = random_rows(700, seed=7)
    produce_spread(kafka, topic, spread(rows, 2, seed=7))
    for batch_size in (1, 7):
        got = read(kafka, topic, 2, pipeline={"batch_size": batch_size}).collect()
        assert sorted(got.column("ts").to_pylist()) == sorted(r["ts"] for r in rows)


def test_metadata_name_that_repeats_a_field_is_refused(kafka):
    topic = new_topic(kafka, 1)
    with pytest.raises(ValueError, match="metadata column 'key' has the name of another column"):
        read(kafka, topic, metadata=["key"])
    with pytest.raises(ValueError, match="unknown metadata column 'header'; choose from key, "
                                         "partition, offset, timestamp, headers"):
        read(kafka, topic, metadata=["header"])


def test_kafka_key_and_timestamp_columns(kafka):
    topic = new_topic(kafka, 2)
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    kafka.produce(topic, [{"id": 1}, {"id": 2}], key=lambda r: f"k{r['id']}", partition=1,
                  timestamp=when)
    kafka.produce(topic, [{"id": 3}], partition=0)  # a null key
    got = read(kafka, topic, schema={"id": "int64"}, metadata=["key", "timestamp"]).collect()
    assert got.column("id").to_pylist() == [3, 1, 2]
    assert got.column("key").to_pylist() == [None, "k1", "k2"]
    stamps = got.column("timestamp").cast(pa.int64()).to_pylist()
    assert stamps[1:] == [int(when.timestamp() * 1000)] * 2


@pytest.mark.parametrize("fmt", ["raw", "string"])
def test_raw_and_string_formats(kafka, fmt):
    topic = new_topic(kafka, 2)
    values = [f"line {i} ünïcode".encode() for i in range(20)]
    kafka.produce(topic, values[:12], partition=0)
    kafka.produce(topic, values[12:], partition=1)
    got = read(kafka, topic, format=fmt, schema=None).collect()
    assert got.schema.names == ["value"]
    assert got.schema.field("value").type == (pa.binary() if fmt == "raw" else pa.string())
    column = got.column("value").to_pylist()
    assert column == (values if fmt == "raw" else [v.decode() for v in values])


def test_string_format_refuses_invalid_utf8_and_raw_keeps_it(kafka):
    topic = new_topic(kafka, 1)
    kafka.produce(topic, [b"ok", b"\xff\xfe bad", b"fine"], partition=0)
    with pytest.raises(ValueError, match=rf"{topic}\[0\]@1: invalid UTF-8"):
        read(kafka, topic, format="string", schema=None).collect()
    assert read(kafka, topic, format="raw", schema=None).collect().column("value").to_pylist() == \
        [b"ok", b"\xff\xfe bad", b"fine"]


# ----- start and stop ------------------------------------------------------------------------------

def test_start_latest_reads_nothing_up_to_the_end(kafka):
    topic = new_topic(kafka, 2)
    kafka.produce(topic, [{"key": "a", "value": 1.0, "ts": 1}], partition=0)
    assert read(kafka, topic, start="latest").collect().num_rows == 0


def test_two_bounded_runs_of_one_group(kafka):
    topic = new_topic(kafka, 3)
    group = f"g-{uuid.uuid4().hex[:8]}"
    first = random_rows(300, seed=1)
    produce_spread(kafka, topic, spread(first, 3, seed=1))
    got = read(kafka, topic, group=group, start="committed").collect()  # nothing committed yet
    assert sorted(got.column("ts").to_pylist()) == sorted(r["ts"] for r in first)
    second = random_rows(120, seed=2)
    produce_spread(kafka, topic, spread(second, 3, seed=2))
    got = read(kafka, topic, group=group, start="committed").collect()
    assert sorted(got.column("ts").to_pylist()) == sorted(r["ts"] for r in second)
    assert read(kafka, topic, group=group, start="committed").collect().num_rows == 0
    # Offsets are the group's: confluent-kafka sees them too.
    consumer = confluent_kafka.Consumer({"bootstrap.servers": kafka.bootstrap_servers,
                                         "group.id": group})
    committed = consumer.committed([confluent_kafka.TopicPartition(topic, p) for p in range(3)],
                                   timeout=10)
    consumer.close()
    assert sum(tp.offset for tp in committed) == len(first) + len(second)


def test_a_failed_run_commits_nothing(kafka):
    topic = new_topic(kafka, 1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.produce(topic, [{"key": "a", "value": 1.0, "ts": 1}, b"not json"], partition=0)
    with pytest.raises(ValueError, match="invalid JSON"):
        read(kafka, topic, group=group, start="committed").collect()
    got = read(kafka, topic, group=group, start="committed", on_error="skip").collect()
    assert got.num_rows == 1


def test_committed_start_needs_a_group(kafka):
    topic = new_topic(kafka, 1)
    with pytest.raises(ValueError, match="start='committed' reads a group's offsets"):
        read(kafka, topic, start="committed")


# ----- windows over stop="end" ---------------------------------------------------------------------

AGGS = {"n": ("count", None), "total": ("sum", "value"), "hi": ("max", "value")}


def windows(stream):
    return (stream.with_watermark("ts", max_delay="9s").key_by("key").window(ms.tumbling("10s"))
            .agg(n=ms.count(), total=ms.sum("value"), hi=ms.max("value")).collect())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("parallelism", [1, 2, 4])
@pytest.mark.parametrize("skew", [False, True], ids=["even", "uneven"])
def test_windows_over_kafka_equal_windows_over_a_file(kafka, tmp_path, backend, parallelism, skew):
    rows = random_rows(4000, seed=parallelism)  # out of order by up to ±4 s
    topic = new_topic(kafka, 4)
    produce_spread(kafka, topic, spread(rows, 4, seed=parallelism, skew=skew))
    got = windows(read(kafka, topic, parallelism, pipeline={"state": backend}))
    expected, late = window_reference(rows, {"kind": "tumbling", "size": 10_000}, AGGS)
    assert not late
    assert_same(result_dict(got, list(AGGS)), expected)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_file = windows(ms.Pipeline(parallelism=parallelism, state=backend)
                        .read_jsonl(str(path), schema=SCHEMA))
    assert_same(result_dict(got, list(AGGS)), result_dict(from_file, list(AGGS)))


def test_rows_in_order_within_their_partition_are_never_late(kafka):
    """The operators' watermark is the minimum of the partitions': a row in order within its
    partition is never late, however far another partition ran ahead. (A row late within its
    partition may or may not be, depending on how far the others had come.)"""
    topic = new_topic(kafka, 2)
    base = 1_700_000_000_000
    fast = [{"key": "a", "value": 1.0, "ts": base + i * 1000} for i in range(60)]
    slow = [{"key": "a", "value": 2.0, "ts": base + i * 1000} for i in (0, 30, 5)]  # 5 is late
    kafka.produce(topic, fast, partition=0)
    kafka.produce(topic, slow, partition=1)
    for parallelism in (1, 2):
        p = ms.Pipeline(parallelism=parallelism)
        s = p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema=SCHEMA)
        w = s.with_watermark("ts", max_delay="1s").key_by("key").window(ms.tumbling("10s"))
        agg = w.agg(n=ms.count())
        got, late = p.collect(agg, w.late())
        assert set(late.column("ts").to_pylist()) <= {base + 5000}
        assert sum(got.column("n").to_pylist()) + late.num_rows == 63


# ----- bad messages --------------------------------------------------------------------------------

BAD = [{"key": "a", "value": 1.0, "ts": 1}, {"key": "b", "value": "abc", "ts": 2}, b"{oops",
       {"key": "c", "value": 3.0, "ts": 3}, [1, 2]]


def test_bad_message_raises_with_its_place_and_field(kafka):
    topic = new_topic(kafka, 2)
    kafka.produce(topic, BAD, partition=1)
    with pytest.raises(ValueError, match=rf"read_kafka\({topic}\): {topic}\[1\]@1: field 'value': "
                                         r"expected float64, got \"abc\""):
        read(kafka, topic).collect()


def test_bad_messages_skipped_are_counted(kafka):
    topic = new_topic(kafka, 2)
    kafka.produce(topic, BAD, partition=1)
    p = ms.Pipeline(parallelism=2)
    s = p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema=SCHEMA, on_error="skip")
    s.for_each_batch(lambda batch: None)
    result = p.run()
    assert result.operator("read_kafka").get("rows_skipped") == 3
    assert read(kafka, topic, on_error="skip").collect().column("key").to_pylist() == ["a", "c"]


def test_bad_messages_go_to_dead_letters(kafka):
    topic = new_topic(kafka, 2)
    kafka.produce(topic, BAD, partition=1)
    p = ms.Pipeline(parallelism=2)
    s = p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema=SCHEMA, on_error="dead_letter")
    rows, dead = p.collect(s, s.dead_letters())
    assert rows.column("key").to_pylist() == ["a", "c"]
    dead = dead.to_pylist()
    assert [d["source"] for d in dead] == [f"{topic}[1]@1", f"{topic}[1]@2", f"{topic}[1]@4"]
    assert [d["field"] for d in dead] == ["value", None, None]
    assert dead[0]["reason"] == "field 'value': expected float64, got \"abc\""
    assert dead[1]["reason"].startswith("invalid JSON")
    assert dead[2]["reason"] == "expected a JSON object, got [1,2]"
    assert [d["raw"] for d in dead] == ['{"key": "b", "value": "abc", "ts": 2}', "{oops", "[1, 2]"]
    assert all(d["line"] is None for d in dead)


# ----- format csv --------------------------------------------------------------------------------

CSV_SCHEMA = {"id": "int64", "name": "string", "price": "float64", "ok": "bool"}


def csv_record(fields, delimiter=","):
    """One record as Python's csv module writes it (quotes around delimiters and quotes)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(fields)
    return out.getvalue().encode()


def produce_with_confluent(kafka, topic, placed):
    producer = confluent_kafka.Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for partition, value in placed:
        producer.produce(topic, value=value, partition=partition)
    assert producer.flush(30) == 0


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_csv_messages_written_by_confluent_kafka(kafka, parallelism):
    topic = new_topic(kafka, 3)
    rng = random.Random(parallelism)
    names = ["plain", "a,b", 'say "hi"', '"quoted", and, commas', "", "ünïcode", None]
    rows = []
    for i in range(300):
        rows.append({"id": i, "name": rng.choice(names),
                     "price": None if rng.random() < 0.1 else round(rng.uniform(-1e3, 1e3), 3),
                     "ok": rng.choice([True, False, None])})
    def text(value):
        return "" if value is None else str(value).lower() if isinstance(value, bool) else value
    placed = spread([csv_record([text(r[k]) for k in CSV_SCHEMA]) for r in rows], 3,
                    seed=parallelism)
    produce_with_confluent(kafka, topic, placed)
    got = read(kafka, topic, parallelism, format="csv", schema=CSV_SCHEMA,
               metadata=["partition"]).collect()
    assert got.schema.names == [*CSV_SCHEMA, "partition"]
    # csv.writer writes "" as an empty field and None as one too: both read back as null; a
    # quoted "" is the only empty string.
    expected = {r["id"]: {**r, "name": r["name"] or None} for r in rows}
    by_id = {r["id"]: {k: r[k] for k in CSV_SCHEMA} for r in got.to_pylist()}
    assert by_id == expected
    assert [r["partition"] for r in got.to_pylist()] == \
        [r.partition for r in kafka.consume(topic)]


def test_csv_quoted_empty_string_delimiter_and_line_end(kafka):
    topic = new_topic(kafka, 1)
    kafka.produce(topic, [b'1;"";2.5;true\n', b"2;;;\r\n", b'3;"x;y";-1;false'])
    got = read(kafka, topic, format="csv", schema=CSV_SCHEMA, csv={"delimiter": ";"}).collect()
    assert got.to_pylist() == [
        {"id": 1, "name": "", "price": 2.5, "ok": True},
        {"id": 2, "name": None, "price": None, "ok": None},
        {"id": 3, "name": "x;y", "price": -1.0, "ok": False}]


def test_csv_options_are_checked(kafka):
    topic = new_topic(kafka, 1)
    with pytest.raises(ValueError, match="unknown csv option.*'header'"):
        read(kafka, topic, format="csv", schema=CSV_SCHEMA, csv={"header": True})
    with pytest.raises(ValueError, match="csv= options are for format='csv'"):
        read(kafka, topic, csv={"delimiter": ";"})
    with pytest.raises(ValueError, match="format 'csv' needs a schema"):
        read(kafka, topic, format="csv", schema=None)


CSV_BAD = [b"1,a,1.5,true", b"2,b,abc,true", b"3,c,1.5", b'4,"d,1.5,true', b"5,e,2.5,false,x",
           b"6,f,3.5,maybe", b"7,g,4.5,false"]


def test_bad_csv_message_raises_with_its_place_and_field(kafka):
    topic = new_topic(kafka, 2)
    kafka.produce(topic, CSV_BAD, partition=1)
    with pytest.raises(ValueError, match=rf"read_kafka\({topic}\): {topic}\[1\]@1: field 'price': "
                                         r"expected float64, got \"abc\""):
        read(kafka, topic, format="csv", schema=CSV_SCHEMA).collect()


def test_bad_csv_messages_skipped_are_counted(kafka):
    topic = new_topic(kafka, 2)
    kafka.produce(topic, CSV_BAD, partition=1)
    got = read(kafka, topic, format="csv", schema=CSV_SCHEMA, on_error="skip").collect()
    assert got.column("id").to_pylist() == [1, 7]
    p = ms.Pipeline(parallelism=2)
    s = p.read_kafka(topic, brokers=kafka.bootstrap_servers, format="csv", schema=CSV_SCHEMA,
                     on_error="skip")
    s.for_each_batch(lambda batch: None)
    assert p.run().operator("read_kafka").get("rows_skipped") == 5


def test_bad_csv_messages_go_to_dead_letters(kafka):
    topic = new_topic(kafka, 2)
    kafka.produce(topic, CSV_BAD, partition=1)
    p = ms.Pipeline(parallelism=2)
    s = p.read_kafka(topic, brokers=kafka.bootstrap_servers, format="csv", schema=CSV_SCHEMA,
                     on_error="dead_letter")
    rows, dead = p.collect(s, s.dead_letters())
    assert rows.column("id").to_pylist() == [1, 7]
    dead = dead.to_pylist()
    assert [d["source"] for d in dead] == [f"{topic}[1]@{i}" for i in (1, 2, 3, 4, 5)]
    assert [d["field"] for d in dead] == ["price", None, None, None, "ok"]
    assert [d["reason"] for d in dead] == [
        "field 'price': expected float64, got \"abc\"",
        "expected 4 fields, got 3",
        "unterminated quoted field (a quoted field must end on its line: newlines inside quoted "
        "fields are not supported)",
        "expected 4 fields, got 5",
        "field 'ok': expected bool, got \"maybe\""]
    assert [d["raw"].encode() for d in dead] == CSV_BAD[1:6]


def test_bad_messages_go_to_a_dead_letter_topic_with_reason_and_origin(kafka):
    topic, dead_topic = new_topic(kafka, 2), new_topic(kafka, 1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.produce(topic, BAD, partition=1, key=lambda r: "k", headers={"trace": "t1"})
    p = ms.Pipeline(parallelism=2)
    s = p.read_kafka(topic, brokers=kafka.bootstrap_servers, schema=SCHEMA, group=group,
                     on_error="dead_letter", dead_letter_topic=dead_topic)
    rows, dead = p.collect(s, s.dead_letters())
    assert rows.column("key").to_pylist() == ["a", "c"]
    got = kafka.consume(dead_topic)
    # The raw bytes as they were sent (not the dead-letter rows' UTF-8 text), key and headers kept.
    assert [r.value for r in got] == [b'{"key": "b", "value": "abc", "ts": 2}', b"{oops", b"[1, 2]"]
    assert all(r.key == b"k" for r in got)
    headers = [dict(r.headers) for r in got]
    assert [h["millstream.offset"] for h in headers] == [b"1", b"2", b"4"]
    assert all(h["millstream.topic"] == topic.encode() and h["millstream.partition"] == b"1"
               and h["trace"] == b"t1" for h in headers)
    assert [h["millstream.reason"].decode() for h in headers] == \
        [d["reason"] for d in dead.to_pylist()]
    # Delivered, then committed: the group's next run reads nothing more.
    again = read(kafka, topic, group=group, start="committed", on_error="skip")
    assert again.collect().num_rows == 0


def test_dead_letter_topic_needs_on_error_dead_letter(kafka):
    # (An unknown dead_letter_topic is refused when the run starts, like write_kafka's topic;
    # librdkafka's mock creates any topic a metadata request names, so that is not tested here.)
    topic = new_topic(kafka, 1)
    with pytest.raises(ValueError, match="dead_letter_topic .* needs on_error='dead_letter'"):
        read(kafka, topic, dead_letter_topic="x")


def test_headers_as_a_metadata_column(kafka):
    topic = new_topic(kafka, 1)
    records = [{"key": "a", "value": 1.0, "ts": 1}, {"key": "b", "value": 2.0, "ts": 2},
               {"key": "c", "value": 3.0, "ts": 3}]
    kafka.produce(topic, records, partition=0,
                  headers=lambda r: [] if r["key"] == "b" else [("h", r["key"]), ("h", b"\xff")])
    got = read(kafka, topic, metadata=["headers", "offset"]).collect()
    assert got.schema.field("headers").type == pa.list_(pa.struct(
        [pa.field("name", pa.string(), nullable=False), pa.field("value", pa.binary())]))
    assert got.column("headers").to_pylist() == [
        [{"name": "h", "value": b"a"}, {"name": "h", "value": b"\xff"}], [],
        [{"name": "h", "value": b"c"}, {"name": "h", "value": b"\xff"}]]
    assert got.column("offset").to_pylist() == [0, 1, 2]


# ----- write_kafka ---------------------------------------------------------------------------------

def test_write_kafka_keys_values_and_java_compatible_partitions(kafka):
    topic = new_topic(kafka, 4)
    rows = [{"user": f"u{i % 9}", "n": i, "note": "line\nbreak" if i == 3 else None}
            for i in range(200)]
    p = ms.Pipeline(parallelism=2)
    p.from_records(rows).write_kafka(topic, brokers=kafka.bootstrap_servers, key="user")
    p.run()
    got = kafka.consume(topic)
    assert sorted((r.key.decode(), r.json()["n"]) for r in got) == \
        sorted((row["user"], row["n"]) for row in rows)
    assert {r.json()["n"]: r.json() for r in got}[3] == rows[3]
    # The partition of each key is the one confluent-kafka's murmur2 partitioner chooses.
    producer = confluent_kafka.Producer({"bootstrap.servers": kafka.bootstrap_servers,
                                         "partitioner": "murmur2_random"})
    expected = {}
    for key in {r.key for r in got}:
        producer.produce(topic, value=b"{}", key=key,
                         on_delivery=lambda err, m: expected.__setitem__(m.key(), m.partition()))
    assert producer.flush(30) == 0
    assert {r.key: r.partition for r in got} == expected


@pytest.mark.parametrize("parallelism", [1, 2])
def test_kafka_to_kafka_filter_and_columns(kafka, parallelism):
    source, sink = new_topic(kafka, 4), new_topic(kafka, 3)
    rows = random_rows(3000, seed=parallelism)
    produce_spread(kafka, source, spread(rows, 4, seed=parallelism))
    p = ms.Pipeline(parallelism=parallelism)
    (p.read_kafka(source, brokers=kafka.bootstrap_servers, schema=SCHEMA)
     .filter(ms.col("value") > 0).with_columns(double=ms.col("value") * 2)
     .write_kafka(sink, brokers=kafka.bootstrap_servers, key="key"))
    p.run()
    got = sorted((r.key.decode(), r.json()["ts"], r.json()["double"]) for r in kafka.consume(sink))
    expected = sorted((r["key"], r["ts"], r["value"] * 2) for r in rows
                      if r["value"] is not None and r["value"] > 0)
    assert got == expected


def test_write_kafka_unknown_key_column(kafka):
    topic = new_topic(kafka, 1)
    s = ms.Pipeline(parallelism=1).from_records([{"a": 1}])
    with pytest.raises(ValueError, match="key column 'user' is not in the stream"):
        s.write_kafka(topic, brokers=kafka.bootstrap_servers, key="user")


def test_undelivered_messages_fail_the_run():
    with MockKafka() as cluster:
        cluster.create_topic("out", 1)
        p = ms.Pipeline(parallelism=1)

        def take_the_broker_down(batch):
            if batch.num_rows > 0:  # not the empty batch map_batches learns the schema from
                cluster.broker_down(1)
            return batch

        (p.from_records([{"n": i} for i in range(10)]).map_batches(take_the_broker_down)
         .write_kafka("out", brokers=cluster.bootstrap_servers,
                      config={"message.timeout.ms": 1500}))
        with pytest.raises(ValueError, match=r"write_kafka\(out\): 10 messages could not be "
                                             r"delivered to topic 'out'"):
            p.run()


def test_a_broker_down_for_a_while_loses_nothing():
    """The broker goes down after the first batch and comes back a second later: whatever the
    consumer had fetched by then, the run reads every record once (librdkafka reconnects)."""
    import threading
    with MockKafka() as cluster:
        cluster.create_topic("bids", 2)
        rows = random_rows(3000, seed=11)
        produce_spread(cluster, "bids", spread(rows, 2, seed=11))
        p = ms.Pipeline(parallelism=2, batch_size=100)
        downs = []

        def take_the_broker_down_once(batch):
            if batch.num_rows > 0 and not downs:
                cluster.broker_down(1)
                downs.append(threading.Timer(1.0, cluster.broker_up, [1]))
                downs[0].start()
            return batch

        got = (p.read_kafka("bids", brokers=cluster.bootstrap_servers, schema=SCHEMA)
               .map_batches(take_the_broker_down_once).collect())
        downs[0].join()
        assert sorted(got.column("ts").to_pylist()) == sorted(r["ts"] for r in rows)
