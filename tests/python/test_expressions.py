"""Every expression against a pandas reference on random data with nulls (hypothesis), for
parallelism 1, 2, 4 and several batch sizes."""
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import millstream as ms
from millstream import col, lit

WORDS = ["apple", "Banana", "cherry", "ÄPFEL", "Ωmega", "", "x", "Kiwi fruit"]


@st.composite
def tables(draw):
    n = draw(st.integers(min_value=0, max_value=300))
    ints = draw(st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=n, max_size=n))
    floats = draw(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), min_size=n, max_size=n))
    small = draw(st.lists(st.one_of(st.none(), st.integers(-7, 7)), min_size=n, max_size=n))
    words = draw(st.lists(st.one_of(st.none(), st.sampled_from(WORDS)), min_size=n, max_size=n))
    flags = draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n))
    return pa.table({"i": pa.array(ints, pa.int64()), "f": pa.array(floats, pa.float64()),
                     "d": pa.array(small, pa.int64()), "s": pa.array(words, pa.string()),
                     "b": pa.array(flags, pa.bool_())})


def run(table, expr, parallelism=1, batch_size=None):
    p = ms.Pipeline(parallelism=parallelism, batch_size=batch_size)
    return p.from_arrow(table).select(expr.alias("out")).collect().column("out").to_pylist()


def py_floordiv(a, b):
    return None if a is None or b is None or b == 0 else a // b


def py_mod(a, b):
    return None if a is None or b is None or b == 0 else a % b


def kleene_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def kleene_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def nulls(columns, fn):
    """Reference that is null when any of `columns` is null."""
    return lambda r: None if any(r[c] is None for c in columns) else fn(r)


# (expression, reference over one row dict)
CASES = {
    "add": (col("i") + col("d"), nulls("id", lambda r: r["i"] + r["d"])),
    "sub_lit": (col("i") - 5, nulls("i", lambda r: r["i"] - 5)),
    "mul_float": (col("f") * col("i"), nulls("fi", lambda r: r["f"] * r["i"])),
    "truediv": (col("i") / lit(4), nulls("i", lambda r: r["i"] / 4)),
    "floordiv": (col("i") // col("d"), lambda r: py_floordiv(r["i"], r["d"])),
    "mod": (col("i") % col("d"), lambda r: py_mod(r["i"], r["d"])),
    "neg": (-col("f"), nulls("f", lambda r: -r["f"])),
    "gt": (col("i") > col("d"), nulls("id", lambda r: r["i"] > r["d"])),
    "le_float": (col("f") <= 0.5, nulls("f", lambda r: r["f"] <= 0.5)),
    "eq_str": (col("s") == "apple", nulls("s", lambda r: r["s"] == "apple")),
    "and": (col("b") & (col("i") > 0), lambda r: kleene_and(r["b"], None if r["i"] is None else r["i"] > 0)),
    "or": (col("b") | (col("d") < 0), lambda r: kleene_or(r["b"], None if r["d"] is None else r["d"] < 0)),
    "not": (~col("b"), nulls("b", lambda r: not r["b"])),
    "is_null": (col("s").is_null(), lambda r: r["s"] is None),
    "fill_null": (col("i").fill_null(0), lambda r: 0 if r["i"] is None else r["i"]),
    "cast": (col("i").cast(ms.float64), nulls("i", lambda r: float(r["i"]))),
    "when": (ms.when(col("d") > 0).then(lit("pos")).when(col("d") < 0).then(lit("neg")).otherwise(lit("zero")),
             lambda r: "pos" if (r["d"] or 0) > 0 else "neg" if (r["d"] or 0) < 0 else "zero"),
    "contains": (col("s").str.contains("an"), nulls("s", lambda r: "an" in r["s"])),
    "starts_with": (col("s").str.starts_with("c"), nulls("s", lambda r: r["s"].startswith("c"))),
    "ends_with": (col("s").str.ends_with("e"), nulls("s", lambda r: r["s"].endswith("e"))),
    "lower": (col("s").str.lower(), nulls("s", lambda r: r["s"].lower())),
    "upper": (col("s").str.upper(), nulls("s", lambda r: simple_upper(r["s"]))),
    "len": (col("s").str.len(), nulls("s", lambda r: len(r["s"]))),
    "slice": (col("s").str.slice(1, 3), nulls("s", lambda r: r["s"][1:4])),
    "slice_negative": (col("s").str.slice(-2), nulls("s", lambda r: r["s"][-2:])),
}


def simple_upper(text):
    """Per-character (simple) case mapping, as Arrow and polars do: 'ß' stays 'ß'."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables(), batch_size=st.sampled_from([1, 7, 64, 65536]))
def test_expression_matches_python(case, table, batch_size, parallelism):
    expr, reference = CASES[case]
    got = run(table, expr, parallelism, batch_size)
    expected = [reference(row) for row in table.to_pylist()]
    assert len(got) == len(expected)
    mismatches = [(row, g, e) for row, g, e in zip(table.to_pylist(), got, expected) if not close(g, e)]
    assert not mismatches, mismatches[:5]


def test_upper_handles_multibyte():
    table = pa.table({"s": ["straße", "äöü", "Ωmega"]})
    # one character maps to one character (as Arrow's utf8_upper): ß becomes ẞ, not "SS"
    assert run(table, col("s").str.upper()) == ["STRAẞE", "ÄÖÜ", "ΩMEGA"]
    assert run(table, col("s").str.lower()) == ["straße", "äöü", "ωmega"]
    assert run(table, col("s").str.len()) == [6, 3, 5]


@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()], ids=["utf8", "large_utf8"])
@pytest.mark.parametrize("batch_size", [1, 50, 65536])
def test_case_mapping_of_mostly_ascii_rows_matches_arrow(string_type, batch_size):
    # Mostly ASCII with a few rows holding characters whose case partner has another byte width
    # (ı -> I, ſ -> S, K (Kelvin) -> k, ȿ -> Ȿ): the ASCII rows are mapped by millstream, the others
    # by Arrow, and the two are spliced; Arrow on the whole column is the reference.
    import random
    import pyarrow.compute as pc
    rng = random.Random(7)
    odd = ["ı", "ſ", "\u212a", "ȿ", "é", "Ω", "ß"]
    values = []
    for _ in range(3000):
        if rng.random() < 0.05:
            values.append(None)
            continue
        text = "".join(rng.choice("abcXYZ 019-_") for _ in range(rng.randint(0, 12)))
        if rng.random() < 0.04:
            at = rng.randint(0, len(text))
            text = text[:at] + rng.choice(odd) + text[at:]
        values.append(text)
    table = pa.table({"s": pa.array(values, string_type)})
    for expr, reference in [(col("s").str.upper(), pc.utf8_upper), (col("s").str.lower(), pc.utf8_lower)]:
        assert run(table, expr, batch_size=batch_size) == reference(table.column("s")).to_pylist()
    sliced = table.slice(17, 2000)  # offsets that do not start at zero
    assert run(sliced, col("s").str.upper(), batch_size=batch_size) == pc.utf8_upper(sliced.column("s")).to_pylist()


def test_timestamp_parts_and_truncate():
    stamps = pd.to_datetime(["2024-03-01 13:45:30.250", "1999-12-31 23:59:59.000", None], format="ISO8601")
    table = pa.table({"ts": pa.array(stamps, pa.timestamp("ms"))})
    frame = table.to_pandas()
    for name in ["year", "month", "day", "hour", "minute", "second"]:
        got = run(table, getattr(col("ts").dt, name)())
        expected = [None if pd.isna(v) else int(getattr(v, name)) for v in frame["ts"]]
        assert got == expected, name
    truncated = run(table, col("ts").dt.truncate("1h"))
    assert truncated[0] == pd.Timestamp("2024-03-01 13:00:00").to_pydatetime()
    assert run(table, col("ts").dt.epoch("ms"))[0] == int(pd.Timestamp("2024-03-01 13:45:30.250").value // 1_000_000)
    epoch = pa.table({"t": pa.array([0, 1_700_000_000], pa.int64())})
    assert run(epoch, ms.from_epoch(col("t"), "s"))[1] == pd.Timestamp(1_700_000_000, unit="s").to_pydatetime()


def test_timezone_parts():
    table = pa.table({"ts": pa.array([pd.Timestamp("2024-06-01 23:30", tz="UTC")], pa.timestamp("us", tz="Europe/Paris"))})
    assert run(table, col("ts").dt.hour()) == [1]
    assert run(table, col("ts").dt.day()) == [2]


def test_type_error_is_raised_when_the_pipeline_is_built():
    p = ms.Pipeline(parallelism=1)
    s = p.from_records([{"name": "a", "x": 1}])
    with pytest.raises(TypeError) as error:
        s.with_columns(y=col("name") + 1)
    message = str(error.value)
    assert "name" in message and "string" in message and "int64" in message


def test_unknown_column_is_reported_when_built():
    s = ms.Pipeline(parallelism=1).from_records([{"x": 1}])
    with pytest.raises(ValueError, match="unknown column 'nope'.*columns: x"):
        s.filter(col("nope") > 1)


def test_bool_of_expression_explains_operators():
    with pytest.raises(TypeError, match="&"):
        bool(col("a") > 1)
    with pytest.raises(TypeError, match=r"\|"):
        if col("a") > 1 and col("b") < 2:  # noqa: SIM102 - what a user would write
            pass


def test_filter_needs_a_bool_predicate():
    s = ms.Pipeline(parallelism=1).from_records([{"x": 1}])
    with pytest.raises(TypeError, match="bool"):
        s.filter(col("x") + 1)
