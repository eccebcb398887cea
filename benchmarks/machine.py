"""The machine a benchmark ran on, so that a figure is never read without its context.

Run it alone to print the header block that benchmarks/RESULTS.md starts with:

    .venv/bin/python benchmarks/machine.py
"""
from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys

LIBRARIES = ("numpy", "pyarrow", "pandas", "polars", "duckdb", "psutil", "millstream")


def _lscpu_model_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _os_name() -> str:
    try:
        with open("/etc/os-release") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _ram_gib() -> float:
    # sysconf avoids depending on psutil for the header alone
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def library_version(name: str) -> str:
    """The installed version of `name`, or why it can't be imported (millstream may not build yet)."""
    try:
        module = importlib.import_module(name)
    except Exception as error:  # noqa: BLE001 - any import failure is reported, not raised
        return f"not importable ({type(error).__name__}: {error})"
    return str(getattr(module, "__version__", "present (no __version__)"))


def machine_info() -> dict[str, str]:
    """Model, cores, RAM, OS, Python and library versions, as name -> text."""
    info = {
        "CPU (lscpu model name)": _lscpu_model_name(),
        "cores (os.cpu_count)": str(os.cpu_count()),
        "RAM": f"{_ram_gib():.1f} GiB",
        "OS": f"{_os_name()} (kernel {platform.release()})",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    for name in LIBRARIES:
        info[name] = library_version(name)
    return info


def machine_markdown() -> str:
    return "\n".join(f"- {name}: {value}" for name, value in machine_info().items())


def print_machine(file=sys.stdout) -> None:
    print("## Machine", file=file)
    print(machine_markdown(), file=file)
    try:
        load_1m, load_5m, _ = os.getloadavg()
        print(f"- load average at start: {load_1m:.2f} (1 min), {load_5m:.2f} (5 min)", file=file)
    except OSError:
        pass
    print(file=file, flush=True)


if __name__ == "__main__":
    print_machine()
