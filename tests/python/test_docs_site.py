"""The documentation site (docs/site, `make docs`): it builds with warnings as errors, and every
`>>>` example on every page runs and prints what the page says."""
import doctest
import inspect
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(ROOT, "docs", "site")
PAGES = sorted(os.path.relpath(os.path.join(folder, name), SITE)
               for folder, _, names in os.walk(SITE) for name in names if name.endswith(".rst"))


def test_the_site_builds_without_warnings(tmp_path):
    from sphinx.cmd.build import build_main
    assert build_main(["-W", "-q", "-b", "html", SITE, str(tmp_path / "html")]) == 0
    assert (tmp_path / "html" / "concepts" / "event-time.html").exists()


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_of_each_page_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(os.path.join(SITE, page), module_relative=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    # api.rst is made of the docstrings, whose examples test_docs.py runs with their modules.
    assert page in ("index.rst", "api.rst") or result.attempted > 0


def test_the_api_reference_names_every_public_name():
    """api.rst documents each name of ``millstream.__all__`` and of ``millstream.testing``."""
    import millstream as ms
    import millstream.testing
    reference = open(os.path.join(SITE, "api.rst")).read()
    documented = set(re.findall(r"^\.\. (?:auto(?:class|function|exception)|data):: (\S+)", reference,
                                flags=re.M))
    short = {name.rsplit(".", 1)[-1] for name in documented}
    public = set(ms.__all__) | {f"testing.{n}" for n in ("events", "watermark",
                                                          "assert_rows_equal", "MockKafka")}
    missing = sorted(n for n in public if n.rsplit(".", 1)[-1] not in short)
    assert not missing, f"api.rst does not document: {missing}"
    assert millstream.testing.__all__


def test_every_public_callable_has_a_docstring():
    """The reference shows what the docstrings say: a public function, class, method or
    property without one would be missing from it (autodoc leaves undocumented members out)."""
    import millstream as ms
    from millstream import expr, pipeline, testing
    owners = [getattr(ms, name) for name in ms.__all__] + [
        expr.StringFunctions, expr.TimeFunctions, expr.When, expr.Then, pipeline.JoinedStream,
        testing.MockKafka, testing.KafkaRecord, testing.events, testing.watermark,
        testing.assert_rows_equal]
    missing = []
    for owner in owners:
        if not callable(owner) or isinstance(owner, ms.DataType):
            continue
        if not (owner.__doc__ or "").strip():
            missing.append(getattr(owner, "__qualname__", repr(owner)))
        if not inspect.isclass(owner):
            continue
        for name, member in vars(owner).items():
            if name.startswith("_"):
                continue
            function = member.fget if isinstance(member, property) else member
            if callable(function) and not (function.__doc__ or "").strip():
                missing.append(f"{owner.__qualname__}.{name}")
    assert not missing, f"public callables without a docstring: {missing}"
