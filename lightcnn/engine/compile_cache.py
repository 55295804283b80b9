"""torch.compile's on-disk cache, kept usable after a compile that did not finish.

The inductor compiles C++ kernels with g++ straight into its cache (``-o <cache>/…/x.so``). A
signal sent to the process group (``kill -- -PGID``, a scheduler) kills g++ too and can leave a
truncated ``.so`` there; every later compile of the same graph loads it and fails ("file too
short") until it is removed. So a training that stops on an inductor error removes the ``.so``
files of the cache that the error names, and the next run of the config compiles them again.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)


def inductor_cache_dir() -> Path:
    try:
        from torch._inductor.runtime.cache_dir_utils import cache_dir  # private: the path rule may move
    except ImportError:  # pragma: no cover - older or newer torch
        return Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR", "/tmp/torchinductor_" + os.environ.get("USER", "")))
    return Path(cache_dir())


def discard_named_objects(error: BaseException) -> list[Path]:
    """Remove the compiled objects (``*.so``) inside the inductor cache that ``error``'s message names
    (the output of the g++ command that failed, or the file that failed to load); return their paths.
    Files outside the cache are never touched."""
    cache = inductor_cache_dir().resolve()
    removed = []
    for text in dict.fromkeys(re.findall(r"(/[^\s:'\"]+\.so)\b", str(error))):
        path = Path(text)
        if path.resolve().is_relative_to(cache) and path.is_file():
            path.unlink()
            removed.append(path)
    if removed:
        log.warning("removed %s from torch.compile's cache: %s compiled again by the next run",
                    ", ".join(map(str, removed)), "it is" if len(removed) == 1 else "they are")  # fmt: skip
    return removed
