"""The wheel is a whole program: configs and specs inside it, found from the installed package."""

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT


def run(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment outside the repository with the wheel installed (its
    dependencies come from this environment's site-packages, so nothing is downloaded)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT / "lightcnn", source / "lightcnn", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", base, source)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = base.glob("lightcnn-*.whl")
    venv = base / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", wheel)
    if installed.returncode != 0:  # an older pip: install into the target's site-packages directly
        installed = run(sys.executable, "-m", "pip", "install", "--no-deps", "--target", site, wheel)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv


@pytest.mark.slow
def test_the_wheel_runs_from_an_empty_directory(installed, tmp_path):
    python = installed / "bin" / "python"
    code = "import lightcnn, lightcnn.composition as c; print(lightcnn.__file__); print(c.CONF_DIR)"
    where = run(python, "-c", code, cwd=tmp_path)
    module, conf = where.stdout.split()
    assert module.startswith(str(installed)) and conf.startswith(str(installed)), where.stdout  # not the checkout
    scripts = [python, "-c", "import sys; from lightcnn.cli import main; sys.argv[0] = 'lightcnn'; main()"]
    profile = run(*scripts, "task=profile", "model=resnet", "task.print_table=false", cwd=tmp_path)
    assert profile.returncode == 0, profile.stderr[-2000:]
    assert '"params": 853018' in profile.stdout.splitlines()[-1]  # ResNet-56, the default depth
    assert "resnet18" in run(*scripts, "--help", cwd=tmp_path).stdout
    tables = [python, "-c", "from lightcnn.cli import tables_main; tables_main()"]
    report = run(*tables, "--results", tmp_path / "results", "--out", tmp_path / "reports", cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-2000:]
    assert (tmp_path / "reports" / "index.md").is_file() and (tmp_path / "reports" / "octconv.md").is_file()
