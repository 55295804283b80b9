"""Command-line entry points: ``lightcnn`` (the Hydra app, :mod:`~lightcnn.cli.app`) and
``lightcnn-tables`` (:mod:`~lightcnn.cli.report`); ``--help`` (:mod:`~lightcnn.cli.usage`), the
sweep table (:mod:`~lightcnn.cli.sweep`), a run's end line (:mod:`~lightcnn.cli.lines`).

Errors in the user's input (unknown group option or key, wrong type, out-of-range value,
missing or corrupt data) print one line ``error: …`` on stderr and exit with code 2. The last
line a run prints on stdout is its record as one JSON object.
"""

from lightcnn.cli.app import main
from lightcnn.cli.report import tables_main

__all__ = ["main", "tables_main"]
