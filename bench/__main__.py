"""`make bench`: run every benchmark in this package and print the comparisons.

Each benchmark module exposes `run() -> list[str]` (the lines to print). Benchmarks start
their own local registries from the test bed; they are never part of `make test`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    if not names:
        print("no benchmarks yet")
        return 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name[len('bench_') :]}")
        for line in module.run():
            print(line)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
