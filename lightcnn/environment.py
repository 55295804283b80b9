"""What a record says about where it ran: the code's git commit, the device and the library versions."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

import lightcnn


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the lightcnn checkout this code runs from (``+dirty`` when modified)."""
    root = Path(lightcnn.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def device_name(device: torch.device | str | None = None) -> str:
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({cpu_model()}, {os.cpu_count()} cores, {cpu_matrix_isa()})"


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].replace("(R)", "").replace("(TM)", "").split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_matrix_isa() -> str:
    """What decides the CPU's bf16 speed (``trainer.precision=auto``): AMX, AVX-512 BF16 or neither."""
    if torch.cpu._is_amx_tile_supported():
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "AVX-512 BF16"
    return "no bf16 hardware"


def environment(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Where and with what a record was made. ``device`` is the CPU unless the task says
    otherwise: counting, im2col and reuse run on the CPU even where a GPU is present (a training
    names the device it trained on itself)."""
    from importlib.metadata import version  # not an import of Lightning (seconds) for a counting task

    return {
        "device": device_name(device),
        "versions": {
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "lightning": version("pytorch-lightning"),
            "lightcnn": lightcnn.__version__,
            "python": platform.python_version(),
        },
        "git_commit": git_commit(),
    }
