"""``task=download``: fetch the configured data set into ``data_dir``."""

from __future__ import annotations

from dataclasses import dataclass

from lightcnn.config import Config, TaskConfig
from lightcnn.data.download import download
from lightcnn.data.sources import SOURCES
from lightcnn.errors import ConfigValueError
from lightcnn.tasks.base import RunContext, TaskResult, register_task


@dataclass
class DownloadTaskConfig(TaskConfig):
    """Fetch the data set's official archives into ``data_dir`` and verify their checksums."""

    name: str = "download"


@register_task("download", config=DownloadTaskConfig, writes_record=False)
def download_task(cfg: Config, ctx: RunContext) -> TaskResult:
    if cfg.dataset.name not in SOURCES:
        raise ConfigValueError(
            "dataset", cfg.dataset.name, "a real data set to download: " + ", ".join(SOURCES.names())
        )
    source = SOURCES.get(cfg.dataset.name).target
    files = download(source, ctx.data_dir, progress=True)
    return TaskResult(
        {"dataset": source.name, "files": [str(p) for p in files]}, f"{source.name}: ready in {ctx.data_dir}"
    )
