"""Filter pruning: structured surgery, rate strings and HRank importance (the pruning report)."""
