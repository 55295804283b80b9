"""``lightcnn-tables``: render the paper tables from run records into a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lightcnn.cli.lines import describe_os_error
from lightcnn.composition import EXPERIMENTS_DIR
from lightcnn.errors import fail


def report_profile(results: Path, profile: str | None, synthetic: bool) -> tuple[str | None, bool]:
    """The profile a report is rendered for (given, or the newest run's: one report never mixes
    profiles) and whether its rows match synthetic stand-ins (smoke records made on them)."""
    from lightcnn.record_io import iter_records

    records = list(iter_records(results))
    if profile is None and records:
        profile = max(records, key=lambda r: r.get("finished_at") or "").get("profile")
    if profile == "smoke" and not synthetic:
        synthetic = any(r.get("profile") == "smoke" and r.get("dataset") == "synthetic" for r in records)
    return profile, synthetic


def tables_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="lightcnn-tables",
        description="Render the paper tables of experiments/**/*.yaml from run records into a report "
        "(one page per paper, an index, plots).",
    )
    parser.add_argument("specs", nargs="*", type=Path, help="table specs (default: every experiments/**/*.yaml)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="where the run records are")
    parser.add_argument("--out", type=Path, help="where tables are written (default: reports/<profile>)")
    parser.add_argument(
        "--profile", help="use only records of this profile (smoke, quick, cpu, paper; default: the newest run's)"
    )
    parser.add_argument("--synthetic", action="store_true", help="match the synthetic stand-ins of smoke runs")
    args = parser.parse_args(argv)
    from lightcnn.errors import UserError  # after parsing: --help answers before torch is imported
    from lightcnn.results.tables import render_report

    specs = args.specs or sorted(EXPERIMENTS_DIR.rglob("*.yaml"))
    profile, synthetic = report_profile(args.results, args.profile, args.synthetic)
    out = args.out or Path("reports") / (profile or "all")
    print(f"report of profile {profile or 'any'}{' (synthetic data)' if synthetic else ''} in {out}", file=sys.stderr)
    try:
        for path in render_report(specs, args.results, out, profile=profile, synthetic=synthetic):
            print(path)
    except UserError as err:
        fail(str(err))
    except OSError as err:
        fail(describe_os_error(err))
