"""Loading a table spec (:mod:`lightcnn.results.specs` has its format): every key checked
against the schema's dataclasses, every ``group=option`` against ``conf/``, every column key
against the run record's fields, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lightcnn.composition import CONF_DIR
from lightcnn.errors import UserError
from lightcnn.results.claims import DIRECTIONS, Claim
from lightcnn.results.specs import (
    DIFF_KINDS,
    Column,
    Curves,
    Plot,
    Row,
    RowFile,
    SpecFile,
    TableSpec,
    derived_value,
    parse_override,
)


def check_override(spec_path: Path, where: str, text: str, conf_dir: Path = CONF_DIR) -> None:
    try:
        key, value = parse_override(text)
    except ValueError as err:
        raise UserError(f"{spec_path}: {where}: {err}") from None
    group_dir = conf_dir / key
    if "." not in key and group_dir.is_dir() and not (group_dir / f"{value}.yaml").is_file():
        options = ", ".join(sorted(p.stem for p in group_dir.glob("*.yaml")))
        raise UserError(f"{spec_path}: {where}: {key}={value}: no such option; available: {options}")


def check_record_key(path: Path, where: str, key: str) -> None:
    """A column's (or a claim's) key is a field a run record can hold (``record_fields()``: ``RunRecord``'s and
    the registered methods'): a field, or a path inside a mapping field (``im2col.layer1.ratio``,
    ``latency.cpu.b1.median_ms``)."""
    import lightcnn.methods  # noqa: F401  (registers the methods and their record fields)
    from lightcnn.record import record_fields

    fields = record_fields()
    head, _, rest = key.partition(".")
    if head not in fields:
        raise UserError(f"{path}: {where}: key {key!r} is not a field of the run record; allowed: "
                        f"{', '.join(sorted(fields))} (a mapping field's inner keys after a dot)")  # fmt: skip
    if rest and fields[head] is not dict:
        raise UserError(f"{path}: {where}: key {key!r}: {head} holds a single value, not a mapping")


def check_list_item(where: str, claim: dict) -> None:
    """A claim's ``change_of`` or ``final_of`` (an entry's field, one of the two) needs a ``key``
    that holds a list of entries."""
    import lightcnn.methods  # noqa: F401  (registers the methods and their record fields)
    from lightcnn.record import record_fields

    key = claim.get("key", "test_acc")
    given = [name for name in ("change_of", "final_of") if claim.get(name) is not None]
    if len(given) > 1:
        raise UserError(f"{where}: change_of and final_of both given; allowed: one of them")
    (name,) = given
    if not isinstance(claim[name], str):
        raise UserError(f"{where}: {name}={claim[name]!r}; allowed: a field of each entry of {key} (text)")
    if record_fields().get(key) is not list:
        lists = sorted(name for name, kind in record_fields().items() if kind is list)
        raise UserError(f"{where}: {name} needs key to be a list field of the run record, not {key!r}; "
                        f"allowed: {', '.join(lists)}")  # fmt: skip


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
    """Every key at every level of a spec is one its schema has (the dataclasses of
    :mod:`lightcnn.results.specs`); labels are unique."""
    check_keys(path, "spec", data, field_names(SpecFile))
    if not data.get("rows") or not data.get("columns"):
        raise UserError(f"{path}: a table spec needs 'columns' and 'rows'")
    for index, row in enumerate(data["rows"]):
        check_keys(path, f"rows[{index}]", row, field_names(RowFile))
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
        fields = "text, row, than, key, direction, at_same, change_of, final_of"
        raise UserError(f"{path}: claims must be a list of {{{fields}}}")
    checked = []
    for index, claim in enumerate(claims):
        where = f"{path}: claims[{index}]"
        allowed = field_names(Claim)
        unknown = sorted(set(claim) - set(allowed)) if isinstance(claim, dict) else ["(not a mapping)"]
        if unknown:
            raise UserError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
        for key in ("text", "row", "than"):
            if not isinstance(claim.get(key), str):
                raise UserError(f"{where}: {key} is required (text)")
        for key in ("row", "than"):
            if claim[key] not in labels:
                raise UserError(f"{where}: {key}={claim[key]!r} is not a row of this table")
        if claim.get("at_same") is not None and not isinstance(claim["at_same"], str):
            raise UserError(f"{where}: at_same={claim['at_same']!r}; allowed: a record field (a cost, e.g. params)")
        for key in ("key", "at_same"):
            if isinstance(claim.get(key), str):
                check_record_key(path, f"claims[{index}] {key}", claim[key])
        if claim.get("change_of") is not None or claim.get("final_of") is not None:
            check_list_item(where, claim)
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
        rows = tuple(spec_row(path, data, r) for r in data["rows"])
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
        check_row(path, row, columns, {r.label for r in rows}, conf_dir)
    return TableSpec(path=path, name=path.stem, paper=path.parent.name, title=str(data.get("title", path.stem)),
                     source=str(data.get("source", "")), columns=columns, rows=rows, notes=str(data.get("notes", "")),
                     plots=plots, curves=curves, claims=claims)  # fmt: skip


def spec_row(path: Path, data: dict, row: dict) -> Row:
    """A row of the file with what the spec gives every row (overrides, tasks, profiles, seeds)."""
    seeds = row.get("seeds", data.get("seeds"))
    return Row(
        row["label"],
        tuple(data.get("overrides", [])) + tuple(row.get("overrides", [])),
        dict(row.get("published") or {}),
        row.get("reference"),
        tuple(row.get("tasks", data.get("tasks", ["train"]))),
        dict(row.get("vars") or {}),
        by_profile(path, data.get("profiles"), row.get("profiles"), row["label"]),
        seed_list(path, seeds, row["label"]),
        profile_seed_lists(path, seeds, row["label"]),
    )


def check_row(path: Path, row: Row, columns: tuple[Column, ...], labels: set[str], conf_dir: Path) -> None:
    """A row's overrides, tasks and profiles name existing options, its published values are
    well-formed, its columns' keys are record fields and its reference is a row."""
    where = f"row {row.label!r}"
    for text in row.overrides:
        check_override(path, where, text, conf_dir)
    check_published(path, row, columns)
    for task in row.tasks:
        check_override(path, where, f"task={task}", conf_dir)
    for profile, _ in row.profile_seeds:
        check_override(path, f"{where}: seeds", f"profile={profile}", conf_dir)
    for profile, overrides in row.profiles:
        check_override(path, f"{where}: profiles", f"profile={profile}", conf_dir)
        for text in overrides:
            check_override(path, f"{where}: profiles.{profile}", text, conf_dir)
    try:
        keys = [(c, c.record_key(row)) for c in columns]
    except KeyError as err:
        raise UserError(f"{path}: {where}: no value for {err} in its vars") from None
    for column, key in keys:
        check_record_key(path, f"column {column.id}", key)
    if row.reference is not None and row.reference not in labels:
        raise UserError(f"{path}: {where}: reference {row.reference!r} is not a row of this table")


def check_published(path: Path, row: Row, columns: tuple[Column, ...]) -> None:
    """Published values only for the table's columns: a number, the paper's words, or ``"= …"``."""
    unknown = set(row.published) - {c.id for c in columns}
    if unknown:
        raise UserError(f"{path}: row {row.label!r}: published values for unknown columns {sorted(unknown)}")
    for key, value in row.published.items():
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
