"""``lightcnn``: the Hydra app. One run (or one job of a sweep) through the runner; its record is
the last line on stdout; a user's mistake is one ``error:`` line and exit code 2."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lightcnn.cli.lines import describe_os_error, summary_line
from lightcnn.cli.sweep import note_sweep_job
from lightcnn.cli.usage import help_text, option_help
from lightcnn.composition import CONF_DIR, describe_config_error
from lightcnn.errors import fail


def task_function(cfg) -> dict | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from lightcnn.errors import UserError
    from lightcnn.record_io import to_json
    from lightcnn.runner import execute

    hydra_cfg = HydraConfig.get()
    try:
        outcome = execute(cfg, Path(hydra_cfg.runtime.output_dir), list(hydra_cfg.overrides.task))
    except UserError as err:
        if hydra_cfg.mode == RunMode.RUN:
            fail(str(err))  # one line, exit 2 (a sweep re-raises: its launcher reports the job)
        raise
    if outcome.is_main_process and hydra_cfg.mode == RunMode.MULTIRUN and outcome.record and "run_id" in outcome.record:
        job = hydra_cfg.job
        note_sweep_job(Path(hydra_cfg.sweep.dir), int(job.num), list(hydra_cfg.overrides.task),
                       {**outcome.record, "run_dir": str(outcome.run_dir or "")}, outcome.skipped)  # fmt: skip
    if outcome.is_main_process:
        is_run = bool(outcome.record and "run_id" in outcome.record)
        if outcome.report:  # a listing's table is its output; a run's (task.print_table) goes beside its log
            print(outcome.report, file=sys.stderr if is_run else sys.stdout)
        print(to_json(outcome.record), flush=True)
        if is_run:  # a run's record, not a listing
            print(summary_line(outcome.record, outcome.skipped, outcome.run_dir), file=sys.stderr, flush=True)
    if outcome.exit_code:
        sys.exit(outcome.exit_code)  # interrupted: 128 + the signal, as a shell reports it
    if hydra_cfg.mode == RunMode.RUN and not (outcome.record and "run_id" in outcome.record):
        discard_run_dir(Path(hydra_cfg.runtime.output_dir))  # a listing is not a run: no directory stays
    return outcome.record


def discard_run_dir(path: Path) -> None:
    """Remove the directory Hydra made for a command that wrote no record (``task=list``), when it
    holds nothing but Hydra's own files, and the folders above it that it leaves empty
    (``runs/<date>/``, ``runs/``, the results directory)."""
    import shutil

    if not path.is_dir() or not {p.name for p in path.iterdir()} <= {".hydra", "cli.log"}:
        return
    shutil.rmtree(path, ignore_errors=True)
    for parent in path.parents[:3]:
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break


def main() -> None:
    if any(arg in ("--help", "-h") for arg in sys.argv[1:]):
        choices = [arg for arg in sys.argv[1:] if "=" in arg and not arg.startswith("-")]
        print("\n\n".join(option_help(c) for c in choices) if choices else help_text())
        return
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from lightcnn.errors import UserError
    from lightcnn.registration import register_configs

    os.environ["HYDRA_FULL_ERROR"] = "1"  # let errors reach us, so we can print them as one line
    register_configs()
    app = hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(task_function)
    try:
        app()
    except UserError as err:
        fail(str(err))
    except (HydraException, OmegaConfBaseException) as err:
        fail(describe_config_error(err))
    except OSError as err:  # a read-only or full results directory
        fail(describe_os_error(err))
