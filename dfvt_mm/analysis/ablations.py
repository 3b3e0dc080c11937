"""The paper's design ablations of DFvT-S (Tables 2-5): sizes, speed and toy training.

The paper's numbers live in one place, ``configs/ablations/metafile.yml`` (OpenMMLab's metafile
form, found by :func:`dfvt_mm.utils.paths.resolve` in a checkout or an installed package), read
by :func:`load_ablations`; each entry names the config that builds the variant
(``configs/ablations/*.py``: DFvT-S's ImageNet recipe with one backbone option set).

- :func:`complexity`: parameters and FLOPs of a model (:func:`.complexity.count`), with and
  without the stem (the authors' counter evidently left the stem out: DFvT-S is 0.95 G with it,
  0.80 G without, and the paper says 0.8 G).
- :func:`relative_throughput`: inference speed of several models in one process, timed in turn
  (:func:`.speed.time_interleaved`), as a ratio to one of them.
- :func:`train_toy`: one variant trained on the built-in classification data with the toy
  config's data and schedule (``configs/toy/dfvt_t_toy_in1k.py``), keeping the variant's
  DFvT-S-shaped backbone, in a process of its own (:func:`dfvt_mm.utils.process.run_logged`);
  returns the final top-1.

``tools/analysis/ablations.py`` is the command line.
"""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from mmengine.config import Config
from torch import nn

from ..toy import write_classification
from ..utils.build import build_model
from ..utils.logs import last_metric
from ..utils.metafile import load_models
from ..utils.paths import resolve
from ..utils.process import run_logged, train_command
from .complexity import count
from .speed import inference_call, time_interleaved

METAFILE = 'configs/ablations/metafile.yml'
TOY_CONFIG = 'configs/toy/dfvt_t_toy_in1k.py'
TOP1 = 'Top 1 Accuracy'


@dataclass(frozen=True)
class Ablation:
    """One model of the paper's ablation tables, with the paper's numbers.

    Attributes:
        name: The metafile's ``Name``.
        config: Absolute path of its config.
        rows: The table rows it is (several tables repeat a model).
        params: The paper's parameter count.
        flops: The paper's FLOPs (224x224, without the stem).
        top1: The paper's ImageNet-1k top-1 (%).
        fps: The paper's images/s (Table 2's rows only, else None).
    """

    name: str
    config: str
    rows: tuple[str, ...]
    params: int
    flops: int
    top1: float
    fps: float | None = None


def load_ablations(metafile: str | None = None) -> list[Ablation]:
    """The ablation models of ``metafile`` (default: the package's :data:`METAFILE`; read by
    :func:`dfvt_mm.utils.metafile.load_models`), in its order. Its ``Config`` paths are relative
    to the folder above its ``configs/`` folder.

    Raises:
        FileNotFoundError: No metafile, or an entry's config does not exist.
        KeyError: An entry lacks a field the tables need; the message names the entry and field.
    """
    try:
        metafile = resolve(metafile or METAFILE)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'no ablation metafile: {e}') from None
    ablations = []
    for record in load_models(path=metafile):
        for field, value in (
            ('Parameters', record.params),
            ('FLOPs', record.flops),
            ('Paper Table', record.paper_table),
            (TOP1, record.metrics.get(TOP1)),
        ):
            if value is None:
                raise KeyError(
                    f'{metafile}: model {record.name!r} lacks {field!r} (see the others)'
                )
        config = record.config and osp.join(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(metafile)))), record.config
        )
        if not config or not osp.isfile(config):
            raise FileNotFoundError(
                f'{metafile}: model {record.name!r} names a missing config {config}'
            )
        ablations.append(
            Ablation(
                name=record.name,
                config=config,
                rows=tuple(record.paper_table.split('; ')),
                params=int(record.params),
                flops=int(record.flops),
                top1=float(record.metrics[TOP1]),
                fps=record.throughput.value if record.throughput else None,
            )
        )
    return ablations


def complexity(model: nn.Module, image_size: int = 224) -> dict[str, int]:
    """Parameters and FLOPs (one multiply-add = one FLOP) of a classifier on one square image.

    Returns:
        ``params``, ``flops`` and the same without the backbone's stem (``params_no_stem``,
        ``flops_no_stem``; the stem, ``backbone.patch_embed``, counted on the same image).
    """
    image = torch.rand(1, 3, image_size, image_size)
    total, stem = count(model, (image,)), count(model.backbone.patch_embed, (image,))
    return dict(
        params=total['params'],
        params_no_stem=total['params'] - stem['params'],
        flops=total['flops'],
        flops_no_stem=total['flops'] - stem['flops'],
    )


def relative_throughput(
    models: dict[str, nn.Module],
    reference: str,
    batch_size: int = 8,
    image_size: int = 224,
    rounds: int = 10,
    clock: str = 'wall',
) -> dict[str, dict[str, float]]:
    """Inference images/s of each model and its ratio to ``reference``'s, in one process.

    Eval mode, ``torch.no_grad``, one fixed random batch; each round times every model once, in
    turn, so that a slow spell of a shared machine falls on all of them; a model's time is its
    median over the rounds.

    Returns:
        Per model: ``images_per_s`` and ``ratio`` (its images/s over the reference's).
    """
    if reference not in models:
        raise KeyError(f'reference {reference!r} is not among the models {sorted(models)}')
    x = torch.rand(batch_size, 3, image_size, image_size)
    calls = {name: inference_call(model, x) for name, model in models.items()}
    seconds = time_interleaved(calls, rounds=rounds, warmup=1, clock=clock)
    return {
        name: dict(images_per_s=batch_size / s, ratio=seconds[reference] / s)
        for name, s in seconds.items()
    }


def toy_config(
    config: str, work_dir: str, epochs: int | None = None, data_root: str = 'data/toy_imagenet'
) -> str:
    """Write the config that trains ``config``'s backbone and head size on the toy dataset.

    The data, schedule, optimizer and seed are those of ``configs/toy/dfvt_t_toy_in1k.py`` (with
    ``epochs`` instead of its 15 if given), the data read from ``data_root``; the backbone
    (DFvT-S-shaped, with its ablation options and drop path) and the head's input size are the
    ablation config's.

    Returns:
        The path of the written config (``work_dir/toy_<config name>``).
    """
    cfg = Config.fromfile(resolve(TOY_CONFIG))
    ablation = Config.fromfile(config)
    cfg.model.backbone = ablation.model.backbone
    cfg.model.head.in_channels = ablation.model.head.in_channels
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    if epochs is not None:
        # The toy schedule warms up over 2 epochs, then decays to the end.
        if epochs < 3:
            raise ValueError(f'epochs must be >= 3 (the toy schedule warms up for 2), got {epochs}')
        cfg.train_cfg.max_epochs = epochs
        cfg.train_cfg.val_interval = epochs
        cfg.default_hooks.checkpoint.interval = epochs
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'toy_' + osp.basename(config))
    cfg.dump(path)
    return path


def train_toy(
    config: str, work_dir: str, epochs: int | None = None, data_root: str = 'data/toy_imagenet'
) -> dict[str, float]:
    """Train one ablation variant on the toy dataset in a process of its own
    (:func:`dfvt_mm.utils.process.train_command`, output in ``work_dir/train.log``), writing the
    dataset first if it is missing.

    Returns:
        ``top1`` (final validation top-1, %) and ``seconds`` (wall time of the run).

    Raises:
        RuntimeError: The run failed; the message ends with the end of its log.
    """
    if not osp.isdir(osp.join(data_root, 'train')):
        write_classification(data_root)
    path = toy_config(config, work_dir, epochs, data_root)
    seconds = run_logged(train_command(path, work_dir), osp.join(work_dir, 'train.log'))
    return dict(top1=last_metric(work_dir, 'accuracy/top1'), seconds=seconds)


def measure(
    ablations: Sequence[Ablation],
    reference: str = 'dfvt_s_in1k',
    image_size: int = 224,
    speed: dict | None = None,
) -> list[dict]:
    """Sizes of every ablation's model and, unless ``speed`` is None, its throughput ratio to
    ``reference`` (``speed``: keyword arguments of :func:`relative_throughput`).

    Returns:
        One dict per ablation: ``name``, the :func:`complexity` counts, ``speed_ratio`` (or None),
        and the paper's ``paper_params``, ``paper_flops``, ``paper_top1``, ``paper_fps`` and
        ``paper_speed_ratio`` (FPS over the reference's; None where the paper has no FPS).
    """
    by_name = {a.name: a for a in ablations}
    models = {a.name: build_model(a.config) for a in ablations}
    ref_fps = by_name[reference].fps if reference in by_name else None
    results = []
    for a in ablations:
        results.append(
            dict(
                name=a.name,
                rows=a.rows,
                **complexity(models[a.name], image_size),
                paper_params=a.params,
                paper_flops=a.flops,
                paper_top1=a.top1,
                paper_fps=a.fps,
                paper_speed_ratio=a.fps / ref_fps if a.fps and ref_fps else None,
            )
        )
    ratios = {}
    if speed is not None:
        if reference not in models:
            raise KeyError(f'speed is relative to {reference!r}: include it in the variants')
        ratios = relative_throughput(models, reference, image_size=image_size, **speed)
    for row in results:
        row['speed_ratio'] = ratios[row['name']]['ratio'] if ratios else None
    return results
