"""Costs of the ACA-compressed im2col convolution (the ACA-im2col report).

D_i is the im2col matrix of one sample: m = C·k·k rows, n = H_out·W_out columns; the layer has
F filters. Sizes in bytes of float32, costs in multiply-accumulates.
"""

from __future__ import annotations

FLOAT32_BYTES = 4


def im2col_bytes(m: int, n: int, samples: int = 1) -> int:
    """Bytes of the float32 im2col matrices: ``samples · m · n · 4``."""
    return samples * m * n * FLOAT32_BYTES


def factor_bytes(rank: int, m: int, n: int) -> int:
    """Bytes of a stored U_i (m × r) and V_i (r × n)."""
    return rank * (m + n) * FLOAT32_BYTES


def compression_ratio(compressed_bytes: float, original_bytes: float) -> float:
    """The paper's ratio: ``1 − compressed / original``."""
    return 1.0 - compressed_bytes / original_bytes


def direct_conv_macs(filters: int, m: int, n: int) -> int:
    """``W · D_i``: F × m times m × n."""
    return filters * m * n


def wuv_macs(filters: int, m: int, n: int, rank: int) -> int:
    """``(W U_i) V_i``: F × m × r, then F × r × n."""
    return filters * rank * (m + n)


def aca_macs(m: int, n: int, rank: int, checks: int = 1) -> int:
    """ACA itself: cross k needs the residual row and column against k − 1 earlier crosses
    (Σ_k (k − 1)(m + n)), and each exact stopping check forms UV (m·n·r) for the residual."""
    return (m + n) * rank * (rank - 1) // 2 + checks * m * n * rank
