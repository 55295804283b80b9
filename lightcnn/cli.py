"""Command-line entry points: ``lightcnn`` (the Hydra app) and ``lightcnn-tables``.

Errors in the user's input (unknown group option or key, wrong type, out-of-range value,
missing or corrupt data) print one line ``error: …`` on stderr and exit with code 2. The last
line a run prints on stdout is its record as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from lightcnn.composition import CONF_DIR, EXPERIMENTS_DIR, describe_config_error, group_options
from lightcnn.config import field_help
from lightcnn.errors import fail

# ------------------------------------------------------------------------------------- help


def help_text() -> str:
    lines = [
        "lightcnn — configuration-driven experiments on lightweight CNNs (Hydra + Lightning)",
        "",
        "usage: lightcnn [group=option ...] [key=value ...]   one run",
        "       lightcnn -m [group=a,b ...] [key=x,y ...]     a sweep (hydra/launcher=joblib runs jobs in parallel)",
        "       lightcnn --cfg job [overrides]                print the resolved config and exit",
        "       lightcnn-tables [--results DIR] [--out DIR] [EXPERIMENT.yaml ...]",
        "",
        "config groups (group=option):",
    ]
    for group, options in group_options().items():
        lines.append(f"  {group}:")
        width = max(len(name) for name, _ in options)
        lines += [f"    {name:<{width}}  {text}".rstrip() for name, text in options]
    lines += [
        "",
        "common keys: seed=0  data_dir=./data  results_dir=./results  skip_existing=true  resume=auto|never|PATH",
        "             trainer.max_epochs  trainer.batch_size  trainer.lr  trainer.precision=auto|32|bf16-mixed",
        "             trainer.compile=none|default|reduce-overhead  trainer.test_every_epoch  trainer.channels_last",
        "             dataset.val_fraction  dataset.normalize  dataset.train_subset  model.depth  model.alpha",
        "             +trainer.extra.NAME=VALUE (any other Lightning Trainer argument, e.g. gradient_clip_val)",
        "             method.pretrained=auto|null|PATH  \"method.baseline_overrides=['trainer.max_epochs=300']\"",
        "",
        "examples:",
        "  lightcnn task=profile model=resnet model.depth=56",
        "  lightcnn model=resnet model.depth=20 dataset=cifar10 profile=quick",
        "  lightcnn -m model.depth=20,56 seed=0,1,2 hydra/launcher=joblib",
        "  lightcnn task=download dataset=mnist",
        "  lightcnn model=template_cnn method=template_kernels dataset=cifar10 trainer.test_every_epoch=true",
        "  lightcnn task=reuse model=template_cnn method=template_kernels task.checkpoint=auto",
        "  lightcnn task=latency model=mobilenet_fused model.segment=2 dataset=mnist",
        "  lightcnn task=im2col model=aca_cnn method=aca_im2col method.layers=100000",
        "  lightcnn task=list                       (every model with its params and MACs per data set)",
        "  lightcnn model=resnet model.depth=20 dataset=cifar10 profile=cpu +trainer.extra.gradient_clip_val=1.0",
        "  make reproduce-tables PROFILE=smoke     (every paper table, then reports/smoke/index.md)",
        "  python -m lightcnn.reproduce --profile cpu --dry-run   (the plan: order, commands, done or not, cost)",
        "",
        "Every run writes result.json in its directory under results_dir and prints it as the last line.",
        "Every key of an option, with its default and what it means: lightcnn --help model=resnet",
        "Hydra's own options: lightcnn --hydra-help",
    ]
    return "\n".join(lines)


def option_help(choice: str) -> str:
    """``lightcnn --help model=resnet``: every key of that option with its value (the schema's
    default, or the option file's) and its description, read from the dataclass. An option that
    sets keys across the config (``profile=``, ``experiment=``, ``search=``) shows those keys."""
    import dataclasses

    from omegaconf import OmegaConf

    from lightcnn.composition import compose_config

    group, _, option = choice.partition("=")
    options = dict(group_options().get(group, []))
    if option not in options:
        fail(f"{choice}: no such option; available: {', '.join(sorted(options)) or 'none'} (groups: "
             f"{', '.join(group_options())})")  # fmt: skip
    header = [f"{group}={option}: {options[option]}", ""]
    path = CONF_DIR / group / f"{option}.yaml"
    if path.is_file() and "@package _global_" in path.read_text():  # a registered entry may have no file
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        data.pop("defaults", None)
        return "\n".join(header + key_lines(dotted(data), {}))
    node = compose_config([choice])[group]
    kind = OmegaConf.get_type(node)
    comments = {"name": f"the option ({group}=NAME chooses it)"}
    comments.update(field_help(kind) if dataclasses.is_dataclass(kind) else {})
    values = OmegaConf.to_container(node, resolve=False)
    return "\n".join(header + key_lines({f"{group}.{k}": v for k, v in values.items()}, comments))


def dotted(data: dict, prefix: str = "") -> dict:
    """``{"trainer": {"lr": 0.1}}`` as ``{"trainer.lr": 0.1}``."""
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def key_lines(values: dict, comments: dict[str, str]) -> list[str]:
    """``  group.key = value   description`` for each key, aligned."""
    import yaml

    width = max(map(len, values), default=0)
    lines = []
    for key, value in values.items():
        shown = yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()
        lines.append(f"  {key:<{width}} = {shown:<16} {comments.get(key.rsplit('.', 1)[-1], '')}".rstrip())
    return lines


# ------------------------------------------------------------------------------------- errors


def size_text(record: dict) -> str:
    """``98,934 params, 14,963,968 MACs``, and for a run with a method what they were before it."""
    params, macs = record["params"], record.get("flops_conv") or 0
    before_params, before_macs = record.get("params_before"), record.get("flops_before")
    if not before_params or record.get("counts_final") is False:
        return f"{params:,} params, {macs:,} MACs"
    return (f"{params:,} params ({before_params:,} before the method, {1 - params / before_params:.1%} removed), "
            f"{macs:,} MACs ({before_macs:,} before, {1 - macs / before_macs:.1%} removed)")  # fmt: skip


def summary_line(record: dict, skipped: bool = False, run_dir: Path | None = None) -> str:
    """One human line for the end of a run: status, accuracies, size, time, where."""
    parts = [f"{record.get('status')}{' (skipped: done before)' if skipped else ''}: {record.get('model')}"
             f" on {record.get('dataset')}"]  # fmt: skip
    if record.get("test_acc") is not None:
        parts.append(f"test top-1 {record['test_acc']:.2f}%, top-5 {record.get('test_acc5') or 0:.2f}%")
    if record.get("params") is not None:
        parts.append(size_text(record))
    if record.get("train_time_s"):
        minutes, seconds = divmod(int(record["train_time_s"]), 60)
        parts.append(f"{minutes} min {seconds} s")
    if record.get("error"):
        parts.append(str(record["error"]))
    if run_dir is not None:
        parts.append(str(run_dir))
    return "; ".join(parts)


def describe_os_error(err: OSError) -> str:
    """One line for a file system error: the path and what went wrong."""
    cause = err if err.filename else (err.__context__ if isinstance(err.__context__, OSError) else err)
    where = cause.filename or "?"
    return f"{where}: {cause.strerror or cause}"


# ------------------------------------------------------------------------------------- lightcnn


SWEEP_JOBS_FILE = "jobs.jsonl"


def note_sweep_job(sweep_dir: Path, job: int, overrides: list[str], record: dict, skipped: bool) -> None:
    """One line per finished job of a sweep in ``<sweep dir>/jobs.jsonl`` (appended whole, so
    jobs of a parallel launcher do not interleave), for :class:`SweepSummary`."""
    line = {"job": job, "overrides": " ".join(overrides), "status": str(record.get("status")),
            "test_acc": record.get("test_acc"), "seconds": record.get("train_time_s"), "skipped": skipped,
            "run_dir": str(record.get("run_dir") or "")}  # fmt: skip
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep_dir / SWEEP_JOBS_FILE, "a") as handle:
        handle.write(json.dumps(line) + "\n")


try:
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover  (hydra-core < 1.1)
    _HydraCallback = object


def seconds_text(seconds: float | None) -> str:
    """A training time for the sweep table: one decimal under 10 s (a short job is not "0")."""
    if not isinstance(seconds, int | float):
        return "—"
    return f"{seconds:.1f}" if seconds < 10 else f"{seconds:,.0f}"


class SweepSummary(_HydraCallback):
    """Hydra callback: at the end of a sweep, one table of its jobs on stderr (config, status,
    test accuracy, training time), from the lines the jobs wrote."""

    def on_multirun_end(self, config, **kwargs) -> None:
        path = Path(str(config.hydra.sweep.dir)) / SWEEP_JOBS_FILE
        if not path.is_file():
            return
        jobs = sorted((json.loads(line) for line in path.read_text().splitlines() if line.strip()),
                      key=lambda j: j["job"])  # fmt: skip
        rows = ["| job | overrides | status | test top-1 (%) | train (s) |", "|---|---|---|---|---|"]
        for job in jobs:
            acc = f"{job['test_acc']:.2f}" if isinstance(job.get("test_acc"), (int, float)) else "—"
            seconds = seconds_text(job.get("seconds"))
            status = job["status"] + (" (done before)" if job.get("skipped") else "")
            rows.append(f"| {job['job']} | {job['overrides']} | {status} | {acc} | {seconds} |")
        bad = sum(j["status"] != "ok" for j in jobs)
        print("\n".join([f"sweep: {len(jobs)} jobs, {bad} not ok ({path.parent})", *rows]), file=sys.stderr)


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


# ------------------------------------------------------------------------------------- tables


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


if __name__ == "__main__":
    main()
