# The documentation site: `make docs` builds it with warnings as errors; every `>>>` example on
# every page is executed by tests/python/test_docs_site.py.
project = "millstream"
author = "the millstream engineers"
extensions = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
