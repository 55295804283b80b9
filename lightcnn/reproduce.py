"""``make reproduce-tables``: run every table spec's rows at one profile, then render the tables.

    python -m lightcnn.reproduce --profile smoke|quick|paper [--task profile] [--override KEY=VALUE] [SPEC.yaml ...]

Each row's overrides run as one ``lightcnn`` job per task of the row (``tasks``, default train)
with ``profile=<profile>``; rows that already
have an ``ok`` record are skipped by the runner (``skip_existing``), so an interrupted
reproduction resumes. All specs are checked before anything runs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from lightcnn.cli import CONF_DIR, fail
from lightcnn.errors import UserError
from lightcnn.results.specs import load_spec
from lightcnn.results.tables import render_specs

PROFILES = ("smoke", "quick", "paper")


def lightcnn_command() -> list[str]:
    script = Path(sys.executable).with_name("lightcnn")
    return [str(script)] if script.exists() else [shutil.which("lightcnn") or "lightcnn"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path)
    parser.add_argument("--profile", choices=PROFILES, default="smoke")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--override", action="append", default=[], help="extra override for every run (repeatable)")
    parser.add_argument("--task", help="run this task for every row instead of the spec's (profile: counts only)")
    args = parser.parse_args(argv)
    paths = args.specs or sorted((CONF_DIR.parent / "experiments").rglob("*.yaml"))
    try:
        specs = [load_spec(p) for p in paths]
    except UserError as err:
        fail(str(err))
    failures = 0
    for spec in specs:
        for row in spec.rows:
            for task in [args.task] if args.task else row.tasks:
                command = [
                    *lightcnn_command(),
                    *row.overrides,
                    f"task={task}",
                    f"profile={args.profile}",
                    f"results_dir={args.results}",
                    "trainer.progress_bar=false",
                    *args.override,
                ]
                print(f"[{spec.paper}/{spec.name}] {row.label}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
                failures += subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0
    for path in render_specs(paths, args.results, args.out, profile=args.profile):
        print(path)
    if failures:
        print(f"{failures} run(s) failed: their rows are marked in the tables", file=sys.stderr)


if __name__ == "__main__":
    main()
