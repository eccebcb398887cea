"""The wheel from `make wheel` (scripts/build_wheel.sh), installed into a fresh venv with no
access to the source tree or the network, runs a pipeline and the quickstart, with the native
libraries it carries rather than Debian's.

Not part of `make test` (building the wheel takes minutes): `make test-wheel` builds it, fills
build/wheelhouse with its dependencies' wheels (pip download: the one step that uses the
network) and runs this module. MILLSTREAM_WHEEL and MILLSTREAM_WHEELHOUSE point elsewhere."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WHEELHOUSE = os.environ.get("MILLSTREAM_WHEELHOUSE", os.path.join(ROOT, "build", "wheelhouse"))
# Debian's libraries that the wheel must carry instead of loading them from the system.
CARRIED = ("librocksdb", "libtbb", "librdkafka", "libsimdjson")


def built_wheel() -> str:
    wheel = os.environ.get("MILLSTREAM_WHEEL")
    if wheel:
        return wheel
    wheels = sorted(glob.glob(os.path.join(ROOT, "dist", "millstream-*manylinux*.whl")),
                    key=os.path.getmtime)
    if not wheels:
        pytest.fail("no wheel in dist/: run `make wheel` (or `make test-wheel`) first")
    return wheels[-1]


def run(args, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with the wheel and its dependencies from the local wheelhouse only."""
    home = tmp_path_factory.mktemp("wheel-venv")
    run([sys.executable, "-m", "venv", str(home / "venv")], cwd=home)
    python = str(home / "venv" / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", "--no-index", "--find-links", WHEELHOUSE,
         built_wheel()], cwd=home)
    return python, home


def test_the_installed_wheel_runs_a_pipeline_from_outside_the_source_tree(venv):
    python, home = venv
    out = run([python, "-c",
               "import millstream as ms, pyarrow\n"
               "p = ms.Pipeline(parallelism=2, state='rocksdb', state_dir='state')\n"
               "s = p.from_records([{'k': i % 3, 'ts': i * 1000} for i in range(30)])\n"
               "w = s.with_watermark('ts').key_by('k').window(ms.tumbling('10s'))\n"
               "rows = w.agg(n=ms.count()).collect(ordered=True).to_pylist()\n"
               "print(ms.__file__)\n"
               "print(pyarrow.__version__)\n"
               "print(sorted((r['k'], r['window_start'], r['n']) for r in rows))\n"], cwd=home)
    module_file, pyarrow_version, rows = out.splitlines()
    assert module_file.startswith(str(home)), module_file  # not the source tree's package
    assert pyarrow_version.startswith("26.0.")
    expected = sorted((k, start, sum(1 for i in range(30) if i % 3 == k and
                                     start <= i * 1000 < start + 10_000))
                      for k in range(3) for start in (0, 10_000, 20_000))
    assert rows == repr(expected)


def test_the_native_libraries_come_from_the_wheel(venv):
    python, home = venv
    module = run([python, "-c", "import millstream._core as c; print(c.__file__)"], cwd=home).strip()
    linked = run(["ldd", module], cwd=home)
    for library in CARRIED:
        lines = [line for line in linked.splitlines() if library in line]
        assert lines, f"{library} is not linked:\n{linked}"
        assert all("millstream.libs" in line for line in lines), f"{library} from the system:\n{linked}"


def test_the_quickstart_runs_with_the_installed_wheel(venv):
    python, home = venv
    out = run([python, os.path.join(ROOT, "examples", "quickstart.py")], cwd=home, timeout=300)
    assert "alerts written" in out and "busiest user-hours" in out
