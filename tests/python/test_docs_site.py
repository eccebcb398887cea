"""The documentation site (docs/site, `make docs`): it builds with warnings as errors, and every
`>>>` example on every page runs and prints what the page says."""
import doctest
import os

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
    assert page == "index.rst" or result.attempted > 0
