"""Export run records for committing: ``result.json`` files with no path of the machine they ran on.

    python -m lightcnn.results.export RESULTS_DIR OUT_DIR --profile cpu \
        --data-source "CIFAR-10 prepared offline from JPEG copies of the official images ..."

(the cpu set's exact ``--data-source`` is in docs/results/README.md).

Each record of the profile is written to ``OUT_DIR/<run_id>/result.json`` (checkpoints, logs and
metrics stay behind). Every string that starts with the results directory becomes relative to it
(``results/runs/…``), every one that starts with the data directory becomes ``data/…``; a
record that names no ``data_source`` gains it. A run already in ``OUT_DIR`` is left as it is (a
committed record is not rewritten by a later export, e.g. of the copies ``scripts/reference_cpu.sh``
puts beside its runs). ``lightcnn-tables --results OUT_DIR`` renders the same tables as from the
original records: paths are not part of a config's hash.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lightcnn.record import RECORD_FILE
from lightcnn.record_io import iter_records, write_json_atomic


def relocated(value: Any, prefixes: dict[str, str]) -> Any:
    """``value`` with each string that starts with one of ``prefixes`` rewritten to its replacement."""
    if isinstance(value, str):
        for prefix, replacement in prefixes.items():
            if value == prefix or value.startswith(prefix + "/"):
                return replacement + value[len(prefix) :]
            if prefix in value:  # a path inside a message (resume notes, errors)
                value = value.replace(prefix, replacement)
        return value
    if isinstance(value, dict):
        return {k: relocated(v, prefixes) for k, v in value.items()}
    if isinstance(value, list):
        return [relocated(v, prefixes) for v in value]
    return value


def portable(record: dict, results_dir: Path, data_dir: Path | None, data_source: str | None) -> dict:
    """The record as it may be committed: machine paths made relative, ``run_dir`` dropped."""
    record = {k: v for k, v in record.items() if k != "run_dir"}
    config = record.get("config") or {}
    prefixes = {}
    if config.get("results_dir"):  # the run's own first: RESULTS_DIR may be a folder below it (…/runs)
        prefixes[str(Path(config["results_dir"]).resolve())] = "results"
    prefixes.setdefault(str(results_dir.resolve()), "results")
    if data_dir is not None:
        prefixes[str(data_dir.resolve())] = "data"
    if data_dir is None and config.get("data_dir"):
        prefixes[str(Path(config["data_dir"]).resolve())] = "data"
    out = relocated(record, prefixes)
    out.setdefault("config", {})
    out["config"]["results_dir"], out["config"]["data_dir"] = "results", "data"
    if data_source is not None:
        out.setdefault("data_source", data_source)
    return out


def export(results_dir: Path, out_dir: Path, profile: str | None, data_dir: Path | None, data_source: str | None):
    written = []
    for record in iter_records(results_dir):
        if profile is not None and record.get("profile") != profile:
            continue
        target = out_dir / str(record["run_id"]) / RECORD_FILE
        if target.exists():
            continue
        write_json_atomic(target, portable(record, results_dir, data_dir, data_source))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the results directory the runs wrote to")
    parser.add_argument("out", type=Path, help="where the portable records go (e.g. docs/results/cpu/records)")
    parser.add_argument("--profile", help="only records of this profile")
    parser.add_argument("--data-dir", type=Path, help="the data directory the runs read (default: each record's)")
    parser.add_argument("--data-source", help="where the data came from, stored in every record that names none")
    args = parser.parse_args(argv)
    for path in export(args.results, args.out, args.profile, args.data_dir, args.data_source):
        print(path)


if __name__ == "__main__":
    main()
