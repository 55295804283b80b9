"""Job order: each job after the runs whose weights it needs (``graphlib``), and running them
with at most N at once, blocking a job whose dependency did not finish ok."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from lightcnn.errors import UserError
from lightcnn.record import Status
from lightcnn.reproduce.run import write_status_record

if TYPE_CHECKING:
    from lightcnn.reproduce.plan import Job

NOT_OK = (Status.FAILED, Status.DIVERGED, Status.INTERRUPTED, Status.BLOCKED)


def dependency_order(jobs: list[Job]) -> list[Job]:
    """Jobs with each one after those it needs (otherwise in spec order: a job right after what
    it needs); indices remapped. Jobs that need each other in a circle are refused, named."""
    import graphlib

    try:
        graphlib.TopologicalSorter({index: job.after for index, job in enumerate(jobs)}).prepare()
    except graphlib.CycleError as err:
        circle = " -> ".join(jobs[index].label for index in err.args[1])
        raise UserError(f"jobs that need each other's weights in a circle: {circle}") from None
    order, placed = [], set()

    def place(index: int) -> None:
        if index in placed:
            return
        placed.add(index)
        for before in jobs[index].after:
            place(before)
        order.append(index)

    for index in range(len(jobs)):
        place(index)
    new_index = {old: new for new, old in enumerate(order)}
    ordered = [jobs[old] for old in order]
    for job in ordered:
        job.after = [new_index[old] for old in job.after]
    return ordered


def run_jobs(jobs: list[Job], workers: int, run_one) -> None:
    """Run ``jobs`` with at most ``workers`` at once, each only after the jobs it needs finished
    ok; a job whose dependency did not is ``blocked`` (a record says so). A timing job
    (:attr:`Job.alone`) starts only when nothing runs, and nothing starts beside it. A job the
    plan found done (status ``ok``) is not launched."""
    pending = [index for index, job in enumerate(jobs) if job.status == "pending"]
    running: dict = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while pending or running:
            for index in list(pending):
                job = jobs[index]
                before = [jobs[i] for i in job.after]
                if any(b.status in NOT_OK for b in before):
                    failed = next(b for b in before if b.status in NOT_OK)
                    job.status, job.reason = "blocked", f"needs {failed.label}, which {failed.status}"
                    write_status_record(job)
                    pending.remove(index)
                elif (
                    all(b.status == "ok" for b in before)
                    and len(running) < max(1, workers)
                    and not any(j.alone for j, _ in running.values())
                    and not (job.alone and running)
                ):
                    pending.remove(index)
                    started = time.perf_counter()
                    running[pool.submit(run_one, job)] = (job, started)
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job, started = running.pop(future)
                job.seconds = time.perf_counter() - started
                if future.exception() is not None:
                    job.status, job.reason = "failed", repr(future.exception())
