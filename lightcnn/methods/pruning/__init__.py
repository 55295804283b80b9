"""Filter pruning: structured surgery, rate strings and HRank importance (the pruning report).
Importing the package registers its methods (``prune_hrank``, ``prune_rl``)."""

from lightcnn.methods.pruning import hrank, rl  # noqa: F401  (registers prune_hrank, prune_rl)
