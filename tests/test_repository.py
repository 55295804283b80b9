"""The repository stands alone: nothing in it points outside it or names a paper by a file hash."""

import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

OUTSIDE = re.compile(r"\.\./shared|method_facts|shared/(papers|data|tools)|DESIGN\.md|\b\d{3}_[0-9a-f]{16}\b")


def test_no_tracked_file_points_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offending = []
    for name in files:
        path = ROOT / name
        if path.suffix in (".png", ".ckpt") or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) and name != "tests/test_repository.py":
                offending.append(f"{name}:{number}: {line.strip()[:80]}")
    assert not offending, "\n".join(offending)


def test_every_docs_link_resolves():
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_the_readme_shows_the_committed_smoke_reports_index():
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- smoke report index: begin -->\n")[1].split("\n<!-- smoke report index: end -->")[0]
    index = (ROOT / "docs" / "results" / "smoke" / "index.md").read_text()
    assert shown.replace("](docs/results/smoke/", "](") in index and shown.startswith("| paper | tables | rows run |")
    for image in ("pareto_synthetic_3x32x32.png", "pruning/rl_fig2_accuracy_vs_reduction.png"):
        assert f"docs/results/smoke/{image}" in readme and (ROOT / "docs/results/smoke" / image).is_file()


def test_the_import_contract_refuses_a_cycle_made_by_a_function_level_import(tmp_path):
    """``make lint``'s acyclic contract, as pyproject.toml declares it, applied to a toy package
    whose two modules import each other, one of them inside a function."""
    assert 'type = "acyclic_siblings"\nancestors = ["lightcnn"]' in (ROOT / "pyproject.toml").read_text()
    package = tmp_path / "toy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from toy.b import g\n\ndef f():\n    return g()\n")
    (package / "b.py").write_text("def g():\n    from toy.a import f\n\n    return f\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = toy\n\n[importlinter:contract:acyclic]\nname = cycles\n"
        "type = acyclic_siblings\nancestors = toy\n"
    )
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 1 and "No cycles are allowed in toy" in done.stdout, done.stdout + done.stderr


def test_the_generated_docs_are_current_and_a_new_option_makes_them_stale(tmp_path):
    """docs/usage.md's group table and docs/options.md are written from conf/ and the config
    dataclasses (the README's composability matrix too: checked in the slow suite, it profiles
    every combination); a new option is a stale doc until the generator runs."""
    from lightcnn import generated_docs as docs

    assert docs.stale(skip=(docs.composability_matrix,)) == [], "run python -m lightcnn.generated_docs"
    usage = tmp_path / "docs" / "usage.md"
    usage.parent.mkdir()
    usage.write_text((docs.ROOT / "docs/usage.md").read_text().replace("`pwise_oct_resnet20` |", "|"))
    only_usage = (docs.composability_matrix, docs.options_page)
    assert docs.stale(tmp_path, skip=only_usage) == [usage]
    assert "| `search=` | `pwise_oct_resnet20` |" in docs.expected(tmp_path, skip=only_usage)[usage]


def test_every_key_the_usage_notes_name_is_a_key_of_an_option():
    """The hand-written notes in docs/usage.md name keys (``model.depth``); each is one that
    docs/options.md (generated from the dataclasses) lists, so a renamed key cannot linger."""
    docs = ROOT / "docs"
    pattern = r"((?:dataset|model|method|trainer|task|logger)\.[a-z_0-9]+)"
    listed = set(re.findall(rf"^  {pattern}", (docs / "options.md").read_text(), re.M))
    named = set(re.findall(rf"`{pattern}(?![a-z_0-9{{])", (docs / "usage.md").read_text()))
    assert named and sorted(named - listed) == []
