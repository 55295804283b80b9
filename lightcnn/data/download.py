"""Fetch a data set's official archives with a progress bar and verify their MD5 checksums.

Files already in place are kept. When some cannot be fetched (offline, say), one
:class:`DataError` names every missing file, where it belongs and where it comes from.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import urllib.request
from pathlib import Path

from tqdm import tqdm

from lightcnn.data.datasets import missing_files
from lightcnn.data.sources import Archive, DatasetSource
from lightcnn.errors import DataError

log = logging.getLogger(__name__)
CHUNK_BYTES = 1 << 20


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, target: Path, md5: str, timeout_s: float = 30.0, progress: bool = True) -> None:
    """Download ``url`` to ``target`` (via a temporary file) and check its MD5."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        got = md5sum(partial)
        if got != md5:
            raise DataError(f"{url}: checksum mismatch (md5 {got}, expected {md5}); the download is corrupt")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _install(archive: Archive, data_dir: Path, progress: bool) -> None:
    target = data_dir / archive.target
    if not target.is_file() or md5sum(target) != archive.md5:
        fetch(archive.url, target, archive.md5, progress=progress)
    if archive.extract:
        with tarfile.open(target) as tar:
            tar.extractall(data_dir, filter="data")
        target.unlink()


def remove_empty_dirs(files: list[Path], root: Path) -> None:
    """Remove the folders of ``files`` (up to ``root``) that a failed download left empty."""
    for path in files:
        for parent in path.parents:
            if parent == root or root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:  # not empty (or already gone)
                break


def download(source: DatasetSource, data_dir: Path, progress: bool = True) -> list[Path]:
    """Make ``source``'s files present under ``data_dir``; returns the files now in place."""
    if not missing_files(source, data_dir):
        log.info("%s: all files already in %s", source.name, data_dir)
        return [data_dir / rel for rel in source.files]
    failures = []
    for archive in source.archives:
        try:
            _install(archive, data_dir, progress)
        except DataError:
            raise
        except (OSError, tarfile.TarError, ValueError) as err:  # URLError is an OSError
            failures.append((archive, err))
    still_missing = missing_files(source, data_dir)
    if still_missing:
        remove_empty_dirs([data_dir / a.target for a, _ in failures], data_dir)
        reason = "; ".join(f"{a.url}: {getattr(e, 'reason', e)}" for a, e in failures) or "not in the archive"
        where = ", ".join(str(p) for p in still_missing)
        fetch_from = ", ".join(f"{a.url} (md5 {a.md5}) → {data_dir / a.target}" for a, _ in failures)
        raise DataError(
            f"dataset {source.name}: could not download ({reason}). Missing: {where}. "
            f"Fetch by hand: {fetch_from or 'see lightcnn/data/sources.py'}"
            + (", then unpack the tar archive into data_dir" if any(a.extract for a, _ in failures) else "")
        )
    return [data_dir / rel for rel in source.files]
