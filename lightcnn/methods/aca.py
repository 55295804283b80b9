"""Adaptive Cross Approximation (ACA) with partial pivoting, batched over matrices
(Bebendorf 2000; docs/references.md §2), and the im2col convolution that uses it
(the ACA-im2col report).

For each matrix D (m × n) of a batch, ACA builds D ≈ U V (U: m × r, V: r × n) one cross at a
time: take the residual of a pivot row, its largest entry as the column pivot, the residual of
that column, and the next pivot row where that column is largest. A row whose residual vanishes
gives no cross and is skipped (another unused row is taken). The approximant's Frobenius norm
is updated incrementally (‖S_k‖² = ‖S_{k−1}‖² + 2 Σ_l ⟨u_l,u_k⟩⟨v_l,v_k⟩ + ‖u_k‖²‖v_k‖²).

**Stopping rule.** The classic criterion ‖u_k‖‖v_k‖ ≤ ε‖S_k‖_F estimates the error of the
previous approximant S_{k−1} and can stop early. Because the whole matrix is in memory here (it
is the im2col matrix), a matrix whose criterion holds is then checked exactly: if S_{k−1} already
meets ‖D − S‖_F ≤ ε‖D‖_F the k-th cross is dropped (so an exact rank-r matrix keeps rank r); if
S_k meets it, ACA stops at k; otherwise it continues. So the returned approximation always meets
the tolerance unless it reached ``max_rank`` (or used every row). Ranks are per matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

TINY = 1e-12
STOP_RULES = ("exact", "estimate")


@dataclass
class ACAResult:
    u: torch.Tensor  # (B, m, K): crosses in columns, K the largest rank; a smaller rank's extra slots are zero
    v: torch.Tensor  # (B, K, n)
    rank: torch.Tensor  # (B,) crosses per matrix
    steps: int  # iterations run (for the cost estimate)

    def reconstruct(self) -> torch.Tensor:
        return self.u @ self.v

    def relative_error(self, d: torch.Tensor) -> torch.Tensor:
        """‖D − UV‖_F / ‖D‖_F per matrix (0 for a zero matrix approximated by zero)."""
        err = torch.linalg.matrix_norm(d - self.reconstruct())
        norm = torch.linalg.matrix_norm(d)
        return torch.where(norm > 0, err / norm.clamp_min(TINY), err)


def row_times(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """x_b · A_b for a batch of row vectors x (B, k) and matrices A (B, k, n): (B, n)."""
    return torch.bmm(x[:, None, :], a).squeeze(1)  # bmm beats einsum's plan 3-10x here


def times_column(a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A_b · y_b for a batch of matrices A (B, k, n) and vectors y (B, n): (B, k)."""
    return (a * y[:, None, :]).sum(2)  # a batched matrix-vector product is slow in bmm and einsum


def aca(d: torch.Tensor, eps: float, max_rank: int | None = None, stop: str = "exact") -> ACAResult:
    """:func:`aca_float` with autocast off: under a bf16 autocast (``precision=auto`` on AMX and
    AVX-512 BF16 CPUs) the pivot products, the vanished-row test and the stopping checks would run
    in bf16 (relative error ~2⁻⁸), giving other ranks than ``task=im2col`` reports in float32."""
    if d.dtype not in (torch.float32, torch.float64):
        d = d.float()
    with torch.autocast(d.device.type, enabled=False):
        return aca_float(d, eps, max_rank, stop)


class _Working:
    """The matrices ACA is still growing, and their crosses so far. Crosses are stored in rows
    (``ut``: u transposed) and every product reads only the first ``kk`` slots, the most crosses
    any matrix has so far: the work per step grows with the rank, not the cap; the slots are
    allocated as they are needed (doubling)."""

    FIELDS = ("live", "d", "ut", "v", "rank", "used_rows", "used_cols", "norm2", "d_norm", "row", "active")

    def __init__(self, d: torch.Tensor, cap: int) -> None:
        b, m, n = d.shape
        options = {"dtype": d.dtype, "device": d.device}
        self.d, self.cap, self.kk = d, cap, 0
        self.live = torch.arange(b, device=d.device)  # each working matrix's index in the input batch
        self.ut = torch.zeros(b, min(cap, 8), m, **options)
        self.v = torch.zeros(b, min(cap, 8), n, **options)
        self.rank = torch.zeros(b, dtype=torch.long, device=d.device)
        self.used_rows = torch.zeros(b, m, dtype=torch.bool, device=d.device)
        self.used_cols = torch.zeros(b, n, dtype=torch.bool, device=d.device)
        self.norm2 = torch.zeros(b, **options)  # ‖S_k‖²_F
        self.d_norm = torch.linalg.matrix_norm(d)
        self.active = (self.d_norm > 0) & (cap > 0)
        self.row = torch.zeros(b, dtype=torch.long, device=d.device)

    @property
    def batch(self) -> torch.Tensor:
        return torch.arange(len(self.live), device=self.d.device)

    def set_aside_finished(self) -> tuple[torch.Tensor, ...]:
        """Drop the finished matrices from the working batch; their (indices, u rows, v rows, ranks)."""
        done = ~self.active
        finished = (self.live[done], self.ut[done, : self.kk], self.v[done, : self.kk], self.rank[done])
        keep = self.active.nonzero().squeeze(1)
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name)[keep])
        self.kk = int(self.rank.max())
        return finished

    def make_room(self) -> None:
        """Double the cross slots when this step's cross may need a new one."""
        if self.kk == self.ut.shape[1] < self.cap:
            more = min(self.cap, 2 * self.kk) - self.kk
            self.ut = torch.cat([self.ut, self.ut.new_zeros(len(self.live), more, self.ut.shape[2])], dim=1)
            self.v = torch.cat([self.v, self.v.new_zeros(len(self.live), more, self.v.shape[2])], dim=1)

    def step(self, eps: float, stop: str) -> None:
        """One cross for every active matrix whose pivot row has not vanished."""
        batch, active = self.batch, self.active
        uk, vk = self.ut[:, : self.kk], self.v[:, : self.kk]
        # residual of the pivot row: D[i, :] − Σ_l U[i, l] V[l, :]
        r = self.d[batch, self.row] - row_times(uk[batch, :, self.row], vk)
        self.used_rows[batch[active], self.row[active]] = True
        col = r.abs().masked_fill(self.used_cols, -1.0).argmax(dim=1)
        delta = r[batch, col]
        ok = active & (delta.abs() > TINY * self.d_norm.clamp_min(TINY))
        # a vanished row gives no cross: move to the first unused row
        self.row = torch.where(active & ~ok, (~self.used_rows).float().argmax(dim=1), self.row)
        if bool(ok.any()):
            self.add_crosses(ok, r, delta, col, eps, stop)
        self.active &= ~((self.rank >= self.cap) | self.used_rows.all(dim=1))

    def add_crosses(self, ok: torch.Tensor, r: torch.Tensor, delta: torch.Tensor, col: torch.Tensor, eps: float,
                    stop: str) -> None:  # fmt: skip
        """The new crosses of the matrices ``ok``, the next pivot rows, and the stopping rule."""
        batch, k = self.batch, self.rank.clamp_max(self.cap - 1)
        uk, vk = self.ut[:, : self.kk], self.v[:, : self.kk]
        new_v = r / torch.where(ok, delta, torch.ones_like(delta))[:, None]
        new_u = self.d[batch, :, col] - row_times(vk[batch, :, col], uk)
        new_u, new_v = new_u * ok[:, None], new_v * ok[:, None]
        # incremental ‖S_k‖²
        cross = 2 * (times_column(uk, new_u) * times_column(vk, new_v)).sum(1)
        size2 = new_u.pow(2).sum(1) * new_v.pow(2).sum(1)
        self.norm2 = torch.where(ok, self.norm2 + cross + size2, self.norm2)
        self.ut[batch[ok], k[ok], :] = new_u[ok]
        self.v[batch[ok], k[ok], :] = new_v[ok]
        self.used_cols[batch[ok], col[ok]] = True
        self.rank = self.rank + ok.long()
        self.kk = min(self.kk + 1, self.cap)
        # next pivot row: the largest entry of the new column among unused rows
        self.row = torch.where(ok, new_u.abs().masked_fill(self.used_rows, -1.0).argmax(dim=1), self.row)
        # classic criterion, then the exact check
        small = ok & (size2.sqrt() <= eps * self.norm2.clamp_min(0).sqrt())
        if stop == "estimate":
            self.active &= ~small
        elif bool(small.any()):
            self.check_exactly(small, k, new_u, new_v, eps)

    def check_exactly(self, small: torch.Tensor, k: torch.Tensor, new_u: torch.Tensor, new_v: torch.Tensor,
                      eps: float) -> None:  # fmt: skip
        """For the matrices whose classic criterion holds: drop the new cross if the approximant
        met the tolerance without it, stop where it meets it now, go on otherwise."""
        residual = self.d[small] - self.ut[small, : self.kk].transpose(1, 2) @ self.v[small, : self.kk]
        last = new_u[small][:, :, None] * new_v[small][:, None, :]
        limit = eps * self.d_norm[small]
        without = torch.linalg.matrix_norm(residual + last) <= limit  # the new cross was not needed
        within = torch.linalg.matrix_norm(residual) <= limit
        idx = self.batch[small]
        drop = idx[without]
        self.ut[drop, k[drop], :] = 0
        self.v[drop, k[drop], :] = 0
        self.rank[drop] -= 1
        done = torch.zeros_like(small)
        done[idx] = without | within
        self.active &= ~done


@torch.no_grad()
def aca_float(d: torch.Tensor, eps: float, max_rank: int | None = None, stop: str = "exact") -> ACAResult:
    """Approximate every matrix of ``d`` (B, m, n) to relative Frobenius error ``eps``.

    ``stop="exact"`` confirms the classic criterion with the true residual (the error is then at
    most ``eps`` unless ``max_rank`` is reached); ``stop="estimate"`` stops on the classic
    criterion alone, as textbook ACA does (cheaper; the error may exceed ``eps``)."""
    if stop not in STOP_RULES:
        raise ValueError(f"stop={stop!r}: one of {', '.join(STOP_RULES)}")
    if d.dim() == 2:
        d = d[None]
    b, m, n = d.shape
    cap = min(m, n) if max_rank is None else min(max_rank, m, n)
    work = _Working(d, cap)
    # finished matrices leave the working batch once half of it has finished (their factors are
    # set aside): later steps then touch only the matrices still growing
    finished: list[tuple[torch.Tensor, ...]] = []  # (indices in the input batch, u rows, v rows, ranks)
    steps = 0
    while steps < m + cap:
        n_active = int(work.active.sum())
        if n_active == 0:
            break
        if n_active <= len(work.live) // 2:
            finished.append(work.set_aside_finished())
        steps += 1
        work.make_room()
        work.step(eps, stop)
    finished.append((work.live, work.ut[:, : work.kk], work.v[:, : work.kk], work.rank))
    return _assembled(finished, d, steps)


def _assembled(finished: list[tuple[torch.Tensor, ...]], d: torch.Tensor, steps: int) -> ACAResult:
    """Every matrix's crosses back in input order, padded to the largest rank."""
    b, m, n = d.shape
    size = max(part[1].shape[1] for part in finished)
    u_out = torch.zeros(b, size, m, dtype=d.dtype, device=d.device)
    v_out = torch.zeros(b, size, n, dtype=d.dtype, device=d.device)
    rank_out = torch.zeros(b, dtype=torch.long, device=d.device)
    for index, u_rows, v_rows, ranks in finished:
        u_out[index, : u_rows.shape[1]], v_out[index, : v_rows.shape[1]], rank_out[index] = u_rows, v_rows, ranks
    size = int(rank_out.max()) if b else 0
    return ACAResult(u_out[:, :size].transpose(1, 2), v_out[:, :size], rank_out, steps)


# ---------------------------------------------------------------------------------------------
# the im2col convolution


class ACAConv2d(torch.nn.Conv2d):
    """``nn.Conv2d`` computed as ``Y_i = W · D_i`` from each sample's im2col matrix D_i
    (C·k·k × H_out·W_out); with ``approximate`` on, D_i is replaced by its ACA approximation
    U_i V_i (relative Frobenius error ≤ ``eps``) and Y_i = (W U_i) V_i.

    **Gradient rule** (straight-through): the approximation error ``U_i V_i − D_i`` is treated as
    a constant, so the weight gradient uses the approximated D_i (the matrix the forward pass
    really multiplied) and the input gradient is that of the exact im2col. The forward pass
    multiplies the factors, never D_i itself, and takes the input gradient from the native
    convolution (whose value cancels), not from backpropagating through im2col.
    """

    def __init__(
        self,
        *args,
        approximate: bool = False,
        eps: float = 0.1,
        max_rank: int | None = None,
        stop: str = "exact",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.approximate, self.eps, self.max_rank, self.stop = approximate, eps, max_rank, stop
        self.last_ranks: torch.Tensor | None = None  # ranks of the last forward pass, per sample

    @classmethod
    def from_conv(cls, conv: torch.nn.Conv2d, **kwargs) -> ACAConv2d:
        new = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            conv.bias is not None,
            **kwargs,
        )
        new.load_state_dict(conv.state_dict())
        return new.to(conv.weight.device)

    def im2col(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C·k·k, H_out·W_out)"""
        return torch.nn.functional.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.approximate or self.groups != 1:
            return super().forward(x)
        n, _, h, w = x.shape
        kh, kw = self.kernel_size
        h_out = (h + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        w_out = (w + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        with torch.no_grad():
            result = aca(self.im2col(x).float(), self.eps, self.max_rank, self.stop)
        self.last_ranks = result.rank
        # (W U) V: out·r·(m + n) MACs per image instead of out·m·n, and the weight gradient of the
        # approximated D; U and V are constants (reshape: the weight may be channels_last)
        w = self.weight.reshape(self.out_channels, -1)
        y = (w @ result.u.to(w.dtype)) @ result.v.to(w.dtype)
        if self.bias is not None:
            y = y + self.bias[:, None]
        y = y.reshape(n, self.out_channels, h_out, w_out)
        if not (x.requires_grad and torch.is_grad_enabled()):  # the first layer, evaluation
            return y
        # the input gradient is the exact convolution's (straight-through): its value cancels out
        exact = self._conv_forward(x, self.weight.detach(), None)
        return y + (exact - exact.detach())

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", approximate=True, eps={self.eps}" if self.approximate else "")
