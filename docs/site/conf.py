# The documentation site: `make docs` builds it with warnings as errors; every `>>>` example on
# every page is executed by tests/python/test_docs_site.py, and the API reference (api.rst) is
# read from the docstrings of the installed development package (python/ on sys.path, with the
# native module built by `make setup`).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

project = "millstream"
author = "the millstream engineers"
extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
# Signatures as written in the code (``parallelism: int | None = None``), members in the order
# of the source, which groups them as a reader meets them (sources, transforms, sinks).
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
