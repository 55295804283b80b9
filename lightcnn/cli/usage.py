"""``lightcnn --help``: the groups and their options, and ``--help GROUP=OPTION``: every key of
an option with its value and description."""

from __future__ import annotations

from lightcnn.composition import CONF_DIR, group_options
from lightcnn.config import field_help
from lightcnn.errors import fail


def help_text() -> str:
    lines = [
        "lightcnn — configuration-driven experiments on lightweight CNNs (Hydra + Lightning)",
        "",
        "usage: lightcnn [group=option ...] [key=value ...]   one run",
        "       lightcnn -m [group=a,b ...] [key=x,y ...]     a sweep (hydra/launcher=joblib runs jobs in parallel)",
        "       lightcnn --cfg job [overrides]                print the resolved config and exit",
        "       lightcnn-tables [--results DIR] [--out DIR] [EXPERIMENT.yaml ...]",
        "",
        "config groups (group=option):",
    ]
    for group, options in group_options().items():
        lines.append(f"  {group}:")
        width = max(len(name) for name, _ in options)
        lines += [f"    {name:<{width}}  {text}".rstrip() for name, text in options]
    lines += [
        "",
        "common keys: seed=0  data_dir=./data  results_dir=./results  skip_existing=true  resume=auto|never|PATH",
        "             trainer.max_epochs  trainer.batch_size  trainer.lr  trainer.precision=auto|32|bf16-mixed",
        "             trainer.compile=none|default|reduce-overhead  trainer.test_every_epoch  trainer.channels_last",
        "             dataset.val_fraction  dataset.normalize  dataset.train_subset  model.depth  model.alpha",
        "             +trainer.extra.NAME=VALUE (any other Lightning Trainer argument, e.g. gradient_clip_val)",
        "             method.pretrained=auto|null|PATH  \"method.baseline_overrides=['trainer.max_epochs=300']\"",
        "",
        "examples:",
        "  lightcnn task=profile model=resnet model.depth=56",
        "  lightcnn model=resnet model.depth=20 dataset=cifar10 profile=quick",
        "  lightcnn -m model.depth=20,56 seed=0,1,2 hydra/launcher=joblib",
        "  lightcnn task=download dataset=mnist",
        "  lightcnn model=template_cnn method=template_kernels dataset=cifar10 trainer.test_every_epoch=true",
        "  lightcnn task=reuse model=template_cnn method=template_kernels task.checkpoint=auto",
        "  lightcnn task=latency model=mobilenet_fused model.segment=2 dataset=mnist",
        "  lightcnn task=im2col model=aca_cnn method=aca_im2col method.layers=100000",
        "  lightcnn task=list                       (every model with its params and MACs per data set)",
        "  lightcnn model=resnet model.depth=20 dataset=cifar10 profile=cpu +trainer.extra.gradient_clip_val=1.0",
        "  make reproduce-tables PROFILE=smoke     (every paper table, then reports/smoke/index.md)",
        "  python -m lightcnn.reproduce --profile cpu --dry-run   (the plan: order, commands, done or not, cost)",
        "",
        "Every run writes result.json in its directory under results_dir and prints it as the last line.",
        "Every key of an option, with its default and what it means: lightcnn --help model=resnet",
        "Hydra's own options: lightcnn --hydra-help",
    ]
    return "\n".join(lines)


def option_help(choice: str) -> str:
    """``lightcnn --help model=resnet``: every key of that option with its value (the schema's
    default, or the option file's) and its description, read from the dataclass. An option that
    sets keys across the config (``profile=``, ``experiment=``, ``search=``) shows those keys."""
    import dataclasses

    from omegaconf import OmegaConf

    from lightcnn.composition import compose_config

    group, _, option = choice.partition("=")
    options = dict(group_options().get(group, []))
    if option not in options:
        fail(f"{choice}: no such option; available: {', '.join(sorted(options)) or 'none'} (groups: "
             f"{', '.join(group_options())})")  # fmt: skip
    header = [f"{group}={option}: {options[option]}", ""]
    path = CONF_DIR / group / f"{option}.yaml"
    if path.is_file() and "@package _global_" in path.read_text():  # a registered entry may have no file
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        data.pop("defaults", None)
        return "\n".join(header + key_lines(dotted(data), {}))
    node = compose_config([choice])[group]
    kind = OmegaConf.get_type(node)
    comments = {"name": f"the option ({group}=NAME chooses it)"}
    comments.update(field_help(kind) if dataclasses.is_dataclass(kind) else {})
    values = OmegaConf.to_container(node, resolve=False)
    return "\n".join(header + key_lines({f"{group}.{k}": v for k, v in values.items()}, comments))


def dotted(data: dict, prefix: str = "") -> dict:
    """``{"trainer": {"lr": 0.1}}`` as ``{"trainer.lr": 0.1}``."""
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def key_lines(values: dict, comments: dict[str, str]) -> list[str]:
    """``  group.key = value   description`` for each key, aligned."""
    import yaml

    width = max(map(len, values), default=0)
    lines = []
    for key, value in values.items():
        shown = yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()
        lines.append(f"  {key:<{width}} = {shown:<16} {comments.get(key.rsplit('.', 1)[-1], '')}".rstrip())
    return lines
