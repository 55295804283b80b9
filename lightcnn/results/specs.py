"""Table specs: ``experiments/<paper>/<table>.yaml``.

A spec names the runs a table needs (Hydra override sets), the published values and the
columns::

    title: ...
    source: the paper and table the published values come from
    overrides: [dataset=cifar10, method=none]        # shared by every row
    columns:
      - {key: params, label: Params (M), scale: 1.0e-6, digits: 3, diff: relative}
    rows:
      - label: ResNet-20
        overrides: [model=resnet, model.depth=20]
        published: {params: 0.27e6}

Optional: per column ``ratio: true`` (also show ours divided by ours of the row's
``reference`` row); per row or per spec ``tasks: [train, latency]`` (what
``make reproduce-tables`` runs; default ``[train]``; ``tasks: []``: a row of another method's
published figures, shown as ``published only``, never run; a published value may be text quoting
the paper where it prints no number, or a value derived from the paper's own numbers, written as
``"= 1 - 2592556 / 11059200"``: numbers, + - * / and brackets, evaluated when the table renders);
per spec ``plots: [{x: flops_conv, y: test_acc}]`` (a PNG scatter of the rows); per spec or per row ``profiles: {cpu:
[trainer.max_epochs=10]}`` (overrides added at that profile only, after the row's own: how a
table is sized for a machine; a row's list comes after the spec's); per spec or per row
``seeds: [0, 1]`` (one run per seed, ``seed=N`` added last; the table shows their mean ± std and
the seed count), or ``seeds: {cpu: [0, 1, 2]}`` (several seeds at the profiles named, one run at
the others).

Loading (:mod:`lightcnn.results.spec_loading`) checks every key against these dataclasses and
that every ``group=option`` names an existing option in ``conf/``, so a spec with an unknown model
fails with a clear error before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lightcnn.results.claims import Claim

DIFF_KINDS = ("absolute", "relative", "none")


@dataclass(frozen=True)
class SpecFile:
    """The keys a spec file may have at its top level (the format above); any other is refused."""

    columns: list  # required: the table's columns (Column's keys)
    rows: list  # required: its rows (RowFile's keys)
    title: str = ""
    source: str = ""  # the paper and table the published values come from
    overrides: list = field(default_factory=list)  # shared by every row, before its own
    notes: str = ""
    plots: list = field(default_factory=list)  # Plot's keys
    curves: list = field(default_factory=list)  # Curves' keys
    tasks: list = field(default_factory=lambda: ["train"])  # every row's, unless a row names its own
    profiles: dict = field(default_factory=dict)  # profile → overrides added there, before a row's own
    seeds: Any = None  # every row's, unless a row names its own
    claims: list = field(default_factory=list)  # Claim's keys


@dataclass(frozen=True)
class RowFile:
    """The keys a row of a spec file may have; any other is refused."""

    label: str  # required, unique in the table
    overrides: list = field(default_factory=list)
    published: dict = field(default_factory=dict)  # column id → the paper's value
    reference: str | None = None  # the row that drop, reduction and ratio columns compare with
    tasks: list | None = None
    vars: dict = field(default_factory=dict)  # substituted into column keys
    profiles: dict | None = None
    seeds: Any = None


@dataclass(frozen=True)
class Row:
    label: str
    overrides: tuple[str, ...]
    published: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None  # label of the row that ratio columns divide by
    tasks: tuple[str, ...] = ("train",)  # the tasks `make reproduce-tables` runs for this row
    vars: dict[str, Any] = field(default_factory=dict)  # substituted into column keys
    profiles: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (profile, overrides added at that profile)
    seeds: tuple[int, ...] = ()  # one run per seed (empty: the config's seed)
    profile_seeds: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (profile, its seeds): replaces seeds there

    def at_profile(self, profile: str | None) -> tuple[str, ...]:
        """The overrides this row adds at ``profile`` (after its own)."""
        return tuple(o for name, overrides in self.profiles if name == profile for o in overrides)

    def seeds_at(self, profile: str | None) -> tuple[int, ...]:
        """The seeds this row runs at ``profile`` (empty: one run, at the config's seed)."""
        return next((seeds for name, seeds in self.profile_seeds if name == profile), self.seeds)


@dataclass(frozen=True)
class Column:
    key: str  # a record field (params, flops_conv, test_acc, latency.cpu.b1.median_ms, …); may use {row vars}
    label: str
    name: str = ""  # the column's id in `published` and the CSV (default: the key)
    scale: float = 1.0  # displayed value = value × scale
    digits: int = 2
    diff: str = "absolute"  # ours − paper in display units, or relative in percent
    ratio: bool = False  # also show ours / ours of the row's reference row
    drop: bool = False  # the column is the reference row's value minus this row's (e.g. accuracy drop)
    reduction: bool = False  # the column is 1 − this row's value ÷ the reference row's (e.g. params removed)

    @property
    def id(self) -> str:
        return self.name or self.key

    def record_key(self, row: Row) -> str:
        """The record field of this column for ``row`` (``{var}`` filled from the row's vars)."""
        return self.key.format(**row.vars) if row.vars else self.key


@dataclass(frozen=True)
class Curves:
    """Lines from a list field of some rows' records: by default the per-epoch accuracy of their
    training runs (``history``: solid top-1, dashed top-5); with ``field``, ``x``, ``y`` and ``by``
    any list of points, one line per value of ``by`` (e.g. ``rl_steps``: accuracy against
    reduction, one line per episode)."""

    name: str
    rows: tuple[str, ...]
    stage: str = "epoch_test"  # history stage: epoch_test (needs trainer.test_every_epoch), val or train
    title: str = ""
    field: str = "history"  # the record's list of points
    x: str = ""  # point keys, for a field other than history
    y: str = ""
    by: str = ""  # the point key that splits the points into lines
    xlabel: str = ""
    ylabel: str = ""
    baseline: str = ""  # a record field drawn as a dotted horizontal line (e.g. the unpruned accuracy)
    final: Any = None  # {x, y, y_scale}: record fields of one marked point (the end result)


@dataclass(frozen=True)
class Plot:
    """A scatter of every row's ``y`` against its ``x`` (ours), one point per row."""

    x: str
    y: str
    xlabel: str = ""
    ylabel: str = ""
    log_x: bool = False


@dataclass(frozen=True)
class TableSpec:
    path: Path
    name: str
    paper: str
    title: str
    source: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: str = ""
    plots: tuple[Plot, ...] = ()
    curves: tuple[Curves, ...] = ()
    claims: tuple[Claim, ...] = ()


def parse_override(text: str) -> tuple[str, Any]:
    """``'model.depth=56'`` → ``('model.depth', 56)`` (the value parsed as YAML)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key=value")
    key, value = text.split("=", 1)
    return key.strip().lstrip("+"), yaml.safe_load(value)


# data sets replaced by generated data of the same shape for smoke runs without the real files
SYNTHETIC_STAND_INS = {
    "cifar10": ("dataset=synthetic", "dataset.channels=3", "dataset.image_size=32"),
    "mnist": ("dataset=synthetic", "dataset.channels=1", "dataset.image_size=28"),
    "fashion_mnist": ("dataset=synthetic", "dataset.channels=1", "dataset.image_size=28"),
}


def with_synthetic_data(spec: TableSpec) -> TableSpec:
    """The spec with every real data set replaced by synthetic images of the same shape (smoke)."""
    from dataclasses import replace

    def swap(overrides: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for text in overrides:
            key, value = parse_override(text)
            out += SYNTHETIC_STAND_INS.get(value, (text,)) if key == "dataset" else [text]
        return tuple(out)

    rows = tuple(replace(row, overrides=swap(row.overrides)) for row in spec.rows)
    return replace(spec, rows=rows, title=f"{spec.title} — synthetic data")


def derived_value(text: str) -> float:
    """The value of ``"= <expression>"``: numbers combined with + - * / and brackets, nothing else
    (a published value derived from the paper's own numbers)."""
    import ast
    import operator

    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError("allowed after '=': numbers, + - * / and brackets")

    try:
        return value(ast.parse(text.removeprefix("=").strip(), mode="eval").body)
    except (SyntaxError, ZeroDivisionError):
        raise ValueError("allowed after '=': numbers, + - * / and brackets") from None
