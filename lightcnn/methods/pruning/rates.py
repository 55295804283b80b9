"""Compression-rate strings as HRank writes them: ``[0.1]+[0.60]*35+[0.0]*2+…``."""

from __future__ import annotations

import ast
import re

from lightcnn.errors import ConfigValueError
from lightcnn.formulas.pruning import kept_filters, pruned_filters

__all__ = ["kept_filters", "parse_rates", "pruned_filters"]

TERM = re.compile(r"^\s*(\[[^\]]*\])\s*(?:\*\s*(\d+))?\s*$")


FORM = "a number in [0, 1) or HRank's form, quoted whole: \"method.compress_rate='[0.1]+[0.6]*35+[0.0]*2'\""


def parse_rates(text: str) -> list[float]:
    """A single number (every conv), or ``[a, b]*n + [c] + …`` (one rate per conv), each in [0, 1)."""
    text = str(text).strip()
    try:
        rates = [float(text)]
    except ValueError:
        rates = []
        for term in text.split("+"):
            match = TERM.match(term)
            try:
                values = ast.literal_eval(match.group(1)) if match else None
                rates += [float(v) for v in values] * int(match.group(2) or 1)
            except (ValueError, TypeError, SyntaxError):
                raise ConfigValueError("compress_rate", text, FORM) from None
    if not rates:
        raise ConfigValueError("compress_rate", text, FORM)
    for rate in rates:
        if not 0.0 <= rate < 1.0:  # also refuses nan and inf
            raise ConfigValueError("compress_rate", text, f"rates in [0, 1) (found {rate})")
    return rates
