"""The README's examples, the docstrings' examples and the notebooks are executed."""
import doctest
import importlib
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_blocks():
    """(code, the output the README says it prints, or None)."""
    text = open(os.path.join(ROOT, "README.md")).read()
    return re.findall(r"```python\n(.*?)```(?:\nprints\n```\n(.*?)```)?", text, flags=re.S)


@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_readme_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, printed = readme_blocks()[index]
    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "__readme__"})
    if printed:
        assert capsys.readouterr().out == printed


@pytest.mark.parametrize("module", ["millstream", "millstream.expr", "millstream.pipeline",
                                    "millstream.windows", "millstream._durations", "millstream._types",
                                    "millstream.testing", "millstream._test_events",
                                    "millstream._row_assertions", "millstream._times",
                                    "millstream.job"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert module == "millstream._durations" or result.attempted > 0 or module == "millstream.windows"


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(os.path.join(ROOT, "notebooks")) if f.endswith(".ipynb")))
def test_notebook_executes(name, tmp_path):
    import nbformat
    from nbclient import NotebookClient
    notebook = nbformat.read(os.path.join(ROOT, "notebooks", name), as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_quickstart_runs(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "alerts written" in result.stdout and "busiest user-hours" in result.stdout


def test_kafka_example_runs():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "kafka_windows.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith("read 20000 bids, wrote ") and second.startswith("read 0 bids, wrote 0")
