"""The paper's numbers and this repository's models, from OpenMMLab metafiles.

One source: ``model-index.yml`` (this repository's nine configs, imported from
``configs/metafiles/{classification,detection,segmentation}.yml``, what ``mim search`` reads) and
``configs/metafiles/peers.yml`` (the models the paper compares with, not imported by the index).
Files are parsed with ``modelindex`` (the package ``mim search`` uses) and returned as plain
:class:`ModelRecord` objects; any other metafile of the same format (e.g. the ablations') loads
through :func:`load_models` as well, its custom fields kept in ``ModelRecord.metadata`` and
``ModelRecord.extra``.
"""

from __future__ import annotations

import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Any

from .paths import root
from .tasks import TASKS

#: Metafile task names (``Results[].Task``) -> the keys of :data:`~dfvt_mm.utils.tasks.TASKS`.
_TASK_KEYS = {task.metafile: key for key, task in TASKS.items()}

#: Metafile keys of the paper's speed and memory (lists of settings, OpenMMLab's form of
#: ``inference time``: ``value``, ``hardware``, ``backend``, ``batch size``, ``mode``...).
THROUGHPUT_KEY = 'Throughput (images/s)'
MEMORY_KEY = 'Memory (GB)'


def model_index_path() -> str:
    """``model-index.yml``: this repository's models."""
    return osp.join(root(), 'model-index.yml')


def peers_path() -> str:
    """``configs/metafiles/peers.yml``: the paper's comparison models."""
    return osp.join(root(), 'configs', 'metafiles', 'peers.yml')


@dataclass(frozen=True)
class Setting:
    """One of the paper's measurements with the setting it was taken in.

    Args:
        value: The number (images/s, GB).
        batch_size: The batch (an int, or the paper's words, e.g. ``'largest that fits'``).
        hardware: e.g. ``'NVIDIA GeForce RTX 2080 Ti'``.
        mode: e.g. ``'FP32'``.
        resolution: e.g. ``'(224, 224)'``; None where the paper does not say.
        note: How the number was read, where it needed reading.
    """

    value: float
    batch_size: int | str | None = None
    hardware: str | None = None
    mode: str | None = None
    resolution: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ModelRecord:
    """One ``Models`` entry of a metafile, as plain data.

    Args:
        name: ``Name`` (this repository: the config's stem).
        task: ``'cls'``, ``'det'`` or ``'seg'`` (from the first result's task), or the task as
            written when it is none of these.
        backbone: ``Metadata.Backbone``, the label tables show (``'DFvT-T'``, ``'ResNet-50'``);
            the model's name where there is none.
        config: ``Config``: a path relative to :func:`~dfvt_mm.utils.paths.root`, or
            ``'pkg::path'`` upstream;
            None where the entry has none.
        collection: ``In Collection``.
        params: The paper's parameter count (``Metadata.Parameters``).
        flops: The paper's FLOPs (``Metadata.FLOPs``).
        flops_resolution: ``(H, W)`` the FLOPs are counted at.
        measured_params: This code's count (``Metadata.Measured Parameters``), if recorded.
        measured_flops: This code's count (``Metadata.Measured FLOPs``), if recorded.
        throughput: The paper's images/s and its setting.
        memory: The paper's memory (GB) and its setting.
        dataset: The first result's dataset.
        metrics: Every result's metrics, merged (``'Top 1 Accuracy'``, ``'box AP'``...).
        weights: ``Weights`` (the authors' release URL), if any.
        pretrained_backbone: ``Pretrained Backbone`` (detection / segmentation), if any.
        convert: ``Convert``: the command that converts the authors' weights.
        paper_table: ``Metadata.Paper Table``: where in the paper the numbers are.
        metadata: The whole ``Metadata`` mapping (custom fields included).
        extra: The entry's other custom fields.
        source: The metafile it came from.
    """

    name: str
    task: str
    backbone: str
    config: str | None
    collection: str | None = None
    params: float | None = None
    flops: float | None = None
    flops_resolution: tuple[int, int] | None = None
    measured_params: int | None = None
    measured_flops: int | None = None
    throughput: Setting | None = None
    memory: Setting | None = None
    dataset: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    weights: str | None = None
    pretrained_backbone: str | None = None
    convert: str | None = None
    paper_table: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    @property
    def key(self) -> str:
        """The backbone's short name, the same in every task: ``'dfvt_t'``, ``'resnet_50'``."""
        return re.sub(r'[^a-z0-9]+', '_', self.backbone.lower()).strip('_')

    @property
    def config_path(self) -> str | None:
        """``config`` as a file path (upstream ``'pkg::'`` configs are left as they are)."""
        if self.config is None or '::' in self.config or osp.isabs(self.config):
            return self.config
        return osp.join(root(), self.config)


def matches(record: ModelRecord, name: str) -> bool:
    """Whether ``name`` selects ``record``: its key, backbone or metafile name, ignoring case
    and punctuation (``resnet50``, ``ResNet-50`` and ``resnet_50`` are the same)."""
    wanted = _letters(name)
    return wanted in {_letters(record.key), _letters(record.name)}


def _letters(text: str) -> str:
    return re.sub(r'[^a-z0-9]', '', text.lower())


_MODEL_FIELDS = {'Name', 'Metadata', 'Results', 'Config', 'In Collection', 'Weights'}


def _setting(entries: Any) -> Setting | None:
    if not entries:
        return None
    entry = entries[0] if isinstance(entries, list) else entries
    if not isinstance(entry, dict):
        return Setting(value=float(entry))
    return Setting(
        value=float(entry['value']),
        batch_size=entry.get('batch size'),
        hardware=entry.get('hardware'),
        mode=entry.get('mode'),
        resolution=entry.get('resolution'),
        note=entry.get('note'),
    )


def _resolution(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    numbers = [int(n) for n in re.findall(r'\d+', str(text))]
    if len(numbers) != 2:
        raise ValueError(f'a resolution is "(H, W)", got {text!r}')
    return numbers[0], numbers[1]


def _record(model: Any, source: str) -> ModelRecord:
    meta = dict(getattr(model.metadata, 'data', None) or {})
    results = list(model.results or [])
    if not results:
        raise ValueError(f'{source}: model {model.name} has no Results (its task is unknown)')
    metrics: dict[str, float] = {}
    for result in results:
        metrics.update(result.metrics or {})
    return ModelRecord(
        name=model.name,
        task=_TASK_KEYS.get(results[0].task, results[0].task),
        # Metafiles of variants (the ablations') may name no backbone: the model's name labels it.
        backbone=meta.get('Backbone') or model.name,
        config=model.config,
        collection=model.in_collection,
        params=meta.get('Parameters'),
        flops=meta.get('FLOPs'),
        flops_resolution=_resolution(meta.get('FLOPs Resolution')),
        measured_params=meta.get('Measured Parameters'),
        measured_flops=meta.get('Measured FLOPs'),
        throughput=_setting(meta.get(THROUGHPUT_KEY)),
        memory=_setting(meta.get(MEMORY_KEY)),
        dataset=results[0].dataset,
        metrics=metrics,
        weights=model.weights,
        pretrained_backbone=model.data.get('Pretrained Backbone'),
        convert=model.data.get('Convert'),
        paper_table=meta.get('Paper Table'),
        metadata=meta,
        extra={k: v for k, v in model.data.items() if k not in _MODEL_FIELDS},
        source=source,
    )


def load_models(task: str | None = None, path: str | None = None) -> list[ModelRecord]:
    """The models of a model index or metafile, in file order.

    Args:
        task: ``'cls'``, ``'det'`` or ``'seg'`` keeps that task's models; None keeps all.
        path: A ``model-index.yml`` (its imports are followed) or a metafile. Defaults to
            :func:`model_index_path` (this repository's models); :func:`peers_path` gives the
            paper's comparison models.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: An unknown ``task``, or a metafile that ``modelindex`` finds fault with.
    """
    from modelindex import load

    path = path or model_index_path()
    if not osp.isfile(path):
        raise FileNotFoundError(f'no metafile at {path}')
    if task is not None and task not in TASKS:
        raise ValueError(f'unknown task {task!r}; choose from {list(TASKS)}')
    index = load(path)
    # modelindex's own checks (mandatory fields, collections, file references), as mim runs them.
    errors = index.check(silent=True)
    if errors:
        raise ValueError(f'{path}: {"; ".join(errors)}')
    records = [_record(model, model.filepath or path) for model in index.models]
    return [r for r in records if task is None or r.task == task]


def find_model(records: list[ModelRecord], name: str) -> ModelRecord:
    """The record ``name`` selects (see :func:`matches`).

    Raises:
        KeyError: None does; the message lists the names there are.
    """
    for record in records:
        if matches(record, name):
            return record
    raise KeyError(f'no model {name!r}; there are {[r.key for r in records]}')
