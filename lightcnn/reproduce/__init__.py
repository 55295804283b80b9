"""``make reproduce-tables``: run every table spec's rows at one profile, then render the report.

    python -m lightcnn.reproduce --profile smoke|quick|paper [--jobs N] [--launcher NAME]
                                 [--task profile] [--override KEY=VALUE] [--dry-run] [SPEC.yaml ...]

Each row of each spec runs as one ``lightcnn`` job per task of the row (``tasks``, default
train) with ``profile=<profile>``. Before anything runs, every spec is checked (unknown keys,
duplicate labels, rows that do not compose: exit 2 naming the spec, row and key) and the jobs
are put in dependency order: a row whose weights come from another run (``method.pretrained=auto``,
``task.checkpoint=auto``) starts only once that run has finished ``ok`` — whatever ``--jobs``
is — and is marked ``blocked`` (never trained on random weights) when it did not. Jobs whose
config already has an ``ok`` record are skipped by the runner, so an interrupted reproduction
resumes. ``--dry-run`` prints the plan with each job's state and estimated cost.

``--task profile`` counts every row in this process (no data, no subprocess): seconds.
The exit code is 1 when any job failed, diverged, was interrupted or blocked; a summary table
of every job ends the output.

``smoke`` replaces the real data sets by synthetic images of the same shape (``--real-data``
keeps them) and keeps the analyses small, so every table is exercised end to end on a CPU in
minutes; its numbers check the plumbing only.
"""

from lightcnn.reproduce.cli import main
from lightcnn.reproduce.plan import Job, plan_jobs
from lightcnn.reproduce.schedule import dependency_order, run_jobs

__all__ = ["Job", "dependency_order", "main", "plan_jobs", "run_jobs"]
