"""`make bench`: every benchmark under bench/, one after another, each printing its table.

    .venv/bin/python bench/run.py [--only sync,calls,charts] [--runs N]
"""

import argparse
import subprocess
import sys
from pathlib import Path

BENCHES = ["sync", "calls", "charts"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent
    failed = []
    for name in args.only.split(","):
        script = here / f"bench_{name}.py"
        if not script.exists():
            print(f"no benchmark {name!r}", file=sys.stderr)
            return 2
        # Each in its own process: they use different SQLite files and Django settings.
        command = [sys.executable, str(script)] + (["--runs", str(args.runs)] if args.runs else [])
        if subprocess.run(command).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
