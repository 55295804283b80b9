"""The config hash of every job of every shipped spec at the profiles with committed records
(smoke, cpu) and the papers' (paper): a refactor must leave them unchanged, or every committed
record and every finished run goes stale. ``tests/test_reproduce.py`` compares them with
``tests/data/config_hashes.json``; a change meant to alter what runs compute regenerates it:

    .venv/bin/python tests/helpers/config_hashes.py > tests/data/config_hashes.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PROFILES = ("smoke", "cpu", "paper")


def config_hashes() -> dict[str, dict[str, str]]:
    from lightcnn.composition import EXPERIMENTS_DIR
    from lightcnn.reproduce import plan_jobs
    from lightcnn.results.tables import load_specs

    paths = sorted(EXPERIMENTS_DIR.rglob("*.yaml"))
    hashes = {}
    for profile in PROFILES:  # no results directory: every job as planned from nothing (smoke: synthetic data)
        specs = load_specs(paths, profile == "smoke")
        args = argparse.Namespace(profile=profile, results=Path("/nonexistent"), task=None, override=[], rows=None)
        hashes[profile] = {job.label: job.config_hash for job in plan_jobs(specs, args)}
    return hashes


if __name__ == "__main__":
    print(json.dumps(config_hashes(), indent=1, sort_keys=True))
