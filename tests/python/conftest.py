import os
import sys

import pytest

# The package is used from the source tree (make setup writes a .pth file); allow running
# pytest without it too.
# MILLSTREAM_PYTHON_DIR: another copy of the package to test (`make test-asan`'s).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.environ.get("MILLSTREAM_PYTHON_DIR") or os.path.join(ROOT, "python"))

# the testing kit's fixtures, as an installed millstream registers them (entry point pytest11)
pytest_plugins = ["millstream.pytest_plugin"]

PARALLELISMS = [1, 2, 4]


@pytest.fixture(params=PARALLELISMS, ids=lambda p: f"p{p}")
def parallelism(request):
    return request.param
