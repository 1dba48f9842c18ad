"""The README's performance table: bench_pages.py at each size, in its own process.

    python tests/benchmarks/run_all.py --sizes 10000,100000,1000000 [--requests 50] [--reuse]
                                       [--markdown out.md] [--json out.json] [--drop]
    python tests/benchmarks/run_all.py --smoke     # a few thousand rows, a few requests

Each size gets a scratch database (erp_bench_pages_<size>, on the server of
$DATABASE_URL) filled by generate_load_data, then bench_pages.py measures it in
process (see its docstring). The combined markdown table, with the date, the machine
and the command, goes to stdout (and --markdown). --smoke checks that the scripts
still work; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import _support  # noqa: E402
from tests.benchmarks.bench_pages import render_table  # noqa: E402

BENCH = Path(__file__).with_name("bench_pages.py")
SMOKE_SIZE = 3000
SMOKE_REQUESTS = 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="reuse data an earlier run generated")
    parser.add_argument("--drop", action="store_true", help="drop each scratch database when measured")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SIZE} rows, {SMOKE_REQUESTS} requests")
    parser.add_argument(
        "--db-prefix", default="erp_bench_pages", help="scratch databases are <prefix>_<size>"
    )
    parser.add_argument("--markdown", help="also write the table (with date and machine) here")
    parser.add_argument("--json", help="write every result here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    if args.smoke:
        sizes, requests, warmup = [SMOKE_SIZE], SMOKE_REQUESTS, 1
    else:
        sizes, requests, warmup = [int(s) for s in args.sizes.split(",") if s.strip()], args.requests, 3
    command = "python tests/benchmarks/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = []
    for size in sizes:
        print(f"\n=== {size:,} synced commitments ===", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            bench = [sys.executable, str(BENCH), "--size", str(size), "--requests", str(requests)]
            bench += ["--warmup", str(warmup), "--db", f"{args.db_prefix}_{size}", "--json", out.name]
            bench += ["--reuse"] * args.reuse + ["--drop"] * (args.drop or args.smoke)
            subprocess.run(bench, check=True, cwd=_support.ROOT)
            results.append(json.loads(Path(out.name).read_text()))

    report = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {_support.machine_description()}.",
            f"Command: `{command.strip()}` ({requests} requests per row after {warmup} warm-up; "
            "server time in process, PostgreSQL 5432 on the same machine).",
            "",
            render_table(results),
        ]
    )
    print("\n" + report)
    if args.markdown:
        Path(args.markdown).write_text(report + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
