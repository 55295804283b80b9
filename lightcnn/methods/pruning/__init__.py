"""Filter pruning: structured surgery, rate strings and HRank importance (003_d752829cc53107c1.txt)."""
