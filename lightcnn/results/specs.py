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

Loading checks that every ``group=option`` names an existing option in ``conf/``, so a spec
with an unknown model fails with a clear error before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lightcnn.composition import CONF_DIR
from lightcnn.errors import UserError
from lightcnn.results.claims import CLAIM_KEYS, DIRECTIONS, Claim

DIFF_KINDS = ("absolute", "relative", "none")
SPEC_KEYS = ("title", "source", "overrides", "columns", "rows", "notes", "plots", "curves", "tasks", "profiles",
             "seeds", "claims")  # fmt: skip
ROW_KEYS = ("label", "overrides", "published", "reference", "tasks", "vars", "profiles", "seeds")


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


def check_override(spec_path: Path, where: str, text: str, conf_dir: Path = CONF_DIR) -> None:
    try:
        key, value = parse_override(text)
    except ValueError as err:
        raise UserError(f"{spec_path}: {where}: {err}") from None
    group_dir = conf_dir / key
    if "." not in key and group_dir.is_dir() and not (group_dir / f"{value}.yaml").is_file():
        options = ", ".join(sorted(p.stem for p in group_dir.glob("*.yaml")))
        raise UserError(f"{spec_path}: {where}: {key}={value}: no such option; available: {options}")


def check_record_key(path: Path, column: str, key: str) -> None:
    """A column's key is a field a run record can hold (``record_fields()``: ``RunRecord``'s and
    the registered methods'): a field, or a path inside a mapping field (``im2col.layer1.ratio``,
    ``latency.cpu.b1.median_ms``)."""
    import lightcnn.methods  # noqa: F401  (registers the methods and their record fields)
    from lightcnn.record import record_fields

    fields = record_fields()
    head, _, rest = key.partition(".")
    if head not in fields:
        raise UserError(f"{path}: column {column}: key {key!r} is not a field of the run record; allowed: "
                        f"{', '.join(sorted(fields))} (a mapping field's inner keys after a dot)")  # fmt: skip
    if rest and fields[head] is not dict:
        raise UserError(f"{path}: column {column}: key {key!r}: {head} holds a single value, not a mapping")


def check_keys(path: Path, where: str, data: Any, allowed: tuple[str, ...]) -> None:
    """Refuse a mapping with a key the spec format does not have (a typo would be ignored)."""
    if not isinstance(data, dict):
        raise UserError(f"{path}: {where}: expected a mapping, found {type(data).__name__}")
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise UserError(f"{path}: {where}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")


def field_names(kind: type) -> tuple[str, ...]:
    import dataclasses

    return tuple(f.name for f in dataclasses.fields(kind))


def check_structure(path: Path, data: Any) -> None:
    """Every key at every level of a spec is one the format has; labels are unique."""
    check_keys(path, "spec", data, SPEC_KEYS)
    if not data.get("rows") or not data.get("columns"):
        raise UserError(f"{path}: a table spec needs 'columns' and 'rows'")
    for index, row in enumerate(data["rows"]):
        check_keys(path, f"rows[{index}]", row, ROW_KEYS)
        if "label" not in row:
            raise UserError(f"{path}: rows[{index}]: a row needs a 'label'")
    for kind, items, allowed in (
        ("columns", data["columns"], field_names(Column)),
        ("plots", data.get("plots") or [], field_names(Plot)),
        ("curves", data.get("curves") or [], field_names(Curves)),
    ):
        for index, item in enumerate(items):
            check_keys(path, f"{kind}[{index}]", item, allowed)
    labels = [row["label"] for row in data["rows"]]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise UserError(f"{path}: duplicate row label {duplicates[0]!r}")
    ids = [c.get("name") or c.get("key") for c in data["columns"]]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UserError(f"{path}: duplicate column {duplicates[0]!r} (give one a 'name')")


def by_profile(path: Path, spec_level: Any, row_level: Any, label: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A row's ``profiles`` overrides: the spec's, then the row's own, per profile."""
    merged: dict[str, list[str]] = {}
    for where, mapping in (("spec", spec_level), (f"row {label!r}", row_level)):
        if mapping is None:
            continue
        if not isinstance(mapping, dict) or not all(isinstance(v, list) for v in mapping.values()):
            raise UserError(f"{path}: {where}: profiles must map a profile to a list of overrides")
        for profile, overrides in mapping.items():
            merged.setdefault(str(profile), []).extend(str(o) for o in overrides)
    return tuple((profile, tuple(overrides)) for profile, overrides in merged.items())


def claim_list(path: Path, claims: Any, labels: list[str]) -> tuple[Claim, ...]:
    """A spec's ``claims``: each names two of its rows, a record field and a direction."""
    if not isinstance(claims, list):
        raise UserError(f"{path}: claims must be a list of {{text, row, than, key, direction}}")
    checked = []
    for index, claim in enumerate(claims):
        where = f"{path}: claims[{index}]"
        unknown = sorted(set(claim) - set(CLAIM_KEYS)) if isinstance(claim, dict) else ["(not a mapping)"]
        if unknown:
            raise UserError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(CLAIM_KEYS)}")
        for key in ("text", "row", "than"):
            if not isinstance(claim.get(key), str):
                raise UserError(f"{where}: {key} is required (text)")
        for key in ("row", "than"):
            if claim[key] not in labels:
                raise UserError(f"{where}: {key}={claim[key]!r} is not a row of this table")
        if claim.get("direction", "higher") not in DIRECTIONS:
            raise UserError(f"{where}: direction={claim['direction']!r}; allowed: {', '.join(DIRECTIONS)}")
        checked.append(Claim(**claim))
    return tuple(checked)


def seed_list(path: Path, seeds: Any, label: str) -> tuple[int, ...]:
    """A row's ``seeds`` at every profile: distinct integers (the row's own list replaces the
    spec's); none where ``seeds`` maps profiles to their lists."""
    if seeds is None or isinstance(seeds, dict):
        return ()
    return _distinct(path, seeds, label, "seeds")


def profile_seed_lists(path: Path, seeds: Any, label: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``seeds: {cpu: [0, 1, 2]}``: the seeds at each profile it names (one run at the others)."""
    if not isinstance(seeds, dict):
        return ()
    return tuple((str(p), _distinct(path, s, label, f"seeds.{p}")) for p, s in seeds.items())


def _distinct(path: Path, seeds: Any, label: str, key: str) -> tuple[int, ...]:
    integers = isinstance(seeds, list) and bool(seeds) and all(type(s) is int for s in seeds)
    if not integers or len(set(seeds)) < len(seeds):
        raise UserError(
            f"{path}: row {label!r}: {key}={seeds!r}; expected a list of distinct integers, e.g. [0, 1], "
            "or a mapping of profiles to such lists, e.g. {cpu: [0, 1, 2]}"
        )
    return tuple(seeds)


def load_spec(path: Path, conf_dir: Path = CONF_DIR) -> TableSpec:
    """Read and check one table spec."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise UserError(f"{path}: cannot read table spec ({err})") from None
    check_structure(path, data)
    labels = [r.get("label") for r in data["rows"] if isinstance(r, dict)]
    for curve in data.get("curves", []):
        missing = [label for label in curve.get("rows", []) if label not in labels]
        if missing:
            raise UserError(f"{path}: curves {curve.get('name')!r}: rows {missing} are not rows of this table")
    try:
        columns = tuple(Column(**c) for c in data["columns"])
        rows = tuple(
            Row(
                r["label"],
                tuple(data.get("overrides", [])) + tuple(r.get("overrides", [])),
                dict(r.get("published") or {}),
                r.get("reference"),
                tuple(r.get("tasks", data.get("tasks", ["train"]))),
                dict(r.get("vars") or {}),
                by_profile(path, data.get("profiles"), r.get("profiles"), r["label"]),
                seed_list(path, r.get("seeds", data.get("seeds")), r["label"]),
                profile_seed_lists(path, r.get("seeds", data.get("seeds")), r["label"]),
            )
            for r in data["rows"]
        )
        plots = tuple(Plot(**p) for p in data.get("plots", []))
        curves = tuple(Curves(**{**c, "rows": tuple(c["rows"])}) for c in data.get("curves", []))
        claims = claim_list(path, data.get("claims", []), labels)
    except (TypeError, KeyError) as err:
        raise UserError(f"{path}: malformed column or row ({err})") from None
    for curve in curves:
        if curve.field != "history" and not (curve.x and curve.y):
            raise UserError(f"{path}: curves {curve.name!r}: field={curve.field!r} needs x and y (keys of its points)")
    for column in columns:
        if column.diff not in DIFF_KINDS:
            raise UserError(f"{path}: column {column.id}: diff={column.diff!r}; allowed: {', '.join(DIFF_KINDS)}")
    for row in rows:
        for text in row.overrides:
            check_override(path, f"row {row.label!r}", text, conf_dir)
        unknown = set(row.published) - {c.id for c in columns}
        if unknown:
            raise UserError(f"{path}: row {row.label!r}: published values for unknown columns {sorted(unknown)}")
        for key, value in row.published.items():  # a number, the paper's words where it prints none, or "= …"
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise UserError(
                    f"{path}: row {row.label!r}: published.{key}={value!r}; allowed: a number, text quoting the "
                    "paper where it gives no number (e.g. 'larger than CACP'), or '= <arithmetic of its numbers>'"
                )
            if isinstance(value, str) and value.startswith("="):
                try:
                    derived_value(value)
                except ValueError as err:
                    raise UserError(f"{path}: row {row.label!r}: published.{key}={value!r}: {err}") from None
        for task in row.tasks:
            check_override(path, f"row {row.label!r}", f"task={task}", conf_dir)
        for profile, _ in row.profile_seeds:
            check_override(path, f"row {row.label!r}: seeds", f"profile={profile}", conf_dir)
        for profile, overrides in row.profiles:
            check_override(path, f"row {row.label!r}: profiles", f"profile={profile}", conf_dir)
            for text in overrides:
                check_override(path, f"row {row.label!r}: profiles.{profile}", text, conf_dir)
        try:
            keys = [(c, c.record_key(row)) for c in columns]
        except KeyError as err:
            raise UserError(f"{path}: row {row.label!r}: no value for {err} in its vars") from None
        for column, key in keys:
            check_record_key(path, column.id, key)
        if row.reference is not None and row.reference not in {r.label for r in rows}:
            raise UserError(f"{path}: row {row.label!r}: reference {row.reference!r} is not a row of this table")
    return TableSpec(
        path=path,
        name=path.stem,
        paper=path.parent.name,
        title=str(data.get("title", path.stem)),
        source=str(data.get("source", "")),
        columns=columns,
        rows=rows,
        notes=str(data.get("notes", "")),
        plots=plots,
        curves=curves,
        claims=claims,
    )


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
