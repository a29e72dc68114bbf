"""``make bench``: run every benchmark script in this folder, one after another, each in its own process.

Each script measures Kith and its raw baseline in the same run and writes bench/results/NAME.json and its section
of bench/RESULTS.md (see ../shared/BENCH.md). Pass names to run only some: ``python bench/run.py message_prep``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = set(sys.argv[1:])
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run.py" and (not wanted or p.stem in wanted))
    failed = []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        if subprocess.call([sys.executable, str(script)], cwd=HERE.parent / "server") != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
