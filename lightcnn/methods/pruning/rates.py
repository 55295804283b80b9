"""Compression-rate strings as HRank writes them: ``[0.1]+[0.60]*35+[0.0]*2+…``."""

from __future__ import annotations

import ast
import re

from lightcnn.errors import ConfigValueError
from lightcnn.formulas.pruning import kept_filters, pruned_filters

__all__ = ["kept_filters", "parse_rates", "pruned_filters"]

TERM = re.compile(r"^\s*(\[[^\]]*\])\s*(?:\*\s*(\d+))?\s*$")


def parse_rates(text: str) -> list[float]:
    """A single number (every conv), or ``[a, b]*n + [c] + …`` (one rate per conv)."""
    text = str(text).strip()
    try:
        return [float(text)]
    except ValueError:
        pass
    rates: list[float] = []
    for term in text.split("+"):
        match = TERM.match(term)
        if not match:
            raise ConfigValueError("compress_rate", text, "a number or HRank's form, e.g. [0.1]+[0.60]*35+[0.0]*2")
        values = ast.literal_eval(match.group(1))
        rates += [float(v) for v in values] * int(match.group(2) or 1)
    for rate in rates:
        if not 0.0 <= rate < 1.0:
            raise ConfigValueError("compress_rate", text, f"rates in [0, 1) (found {rate})")
    return rates
