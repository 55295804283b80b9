"""The lines a command prints for people: a run's end line and an OS error in one line."""

from __future__ import annotations

from pathlib import Path


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
