"""The model zoo table (the README's) from the metafiles, and a check of the counts they record.

Everything in the table comes from ``model-index.yml`` (:func:`dfvt_mm.utils.metafile.load_models`):
the paper's numbers, the authors' weights, the conversion command, and this code's parameter and
FLOP counts (``Measured Parameters`` / ``Measured FLOPs``). :func:`check_measured` recomputes the
latter with :func:`dfvt_mm.analysis.complexity.model_complexity`.
"""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

from tabulate import tabulate

from ..utils.metafile import ModelRecord
from .complexity import model_complexity

HEADERS = (
    'task',
    'config',
    'params',
    'FLOPs',
    'paper: params / FLOPs',
    'paper: accuracy',
    'paper: images/s, memory',
    "authors' weights",
    'convert',
)
#: How the README names the converter (its folder is said once, under the table).
CONVERTER = 'python tools/model_converters/'


def _paper_size(record: ModelRecord) -> str:
    # The paper gives ImageNet sizes to 0.1 M / 0.1 G and the others in whole units.
    digits = 1 if record.task == 'cls' else 0
    return f'{record.params / 1e6:.{digits}f} M / {record.flops / 1e9:.{digits}f} G'


def _accuracy(record: ModelRecord) -> str:
    m = record.metrics
    if record.task == 'cls':
        return f'top-1 {m["Top 1 Accuracy"]:.1f}'
    if record.task == 'det':
        return f'AP box {m["box AP"]:.1f}, mask {m["mask AP"]:.1f}'
    return f'mIoU {m["mIoU"]:.1f}'


def _speed(record: ModelRecord) -> str:
    if record.throughput is None or record.memory is None:
        return '-'
    star = '*' if record.throughput.note else ''
    return f'{record.throughput.value:.1f}{star}, {record.memory.value:.1f} GB'


def _weights(record: ModelRecord) -> str:
    url = record.weights or record.pretrained_backbone
    if url is None:
        return '-'
    link = f'[{osp.basename(url)}]({url})'
    return link if record.weights else f'backbone: {link}'


def _measured(value: int | None, unit: float, digits: int) -> str:
    return '-' if value is None else f'{value / unit:.{digits}f}'


def zoo_rows(records: Sequence[ModelRecord]) -> list[list[str]]:
    """One row per model: the cells of :data:`HEADERS`."""
    rows = []
    for r in records:
        flops_digits = 2 if r.task == 'cls' else 1
        rows.append(
            [
                r.dataset,
                f'[`{osp.basename(r.config)}`]({r.config})',
                f'{_measured(r.measured_params, 1e6, 2)} M',
                f'{_measured(r.measured_flops, 1e9, flops_digits)} G',
                _paper_size(r),
                _accuracy(r),
                _speed(r),
                _weights(r),
                f'`{r.convert.removeprefix(CONVERTER)}`' if r.convert else '-',
            ]
        )
    return rows


def zoo_markdown(records: Sequence[ModelRecord]) -> str:
    """The README's model-zoo table (GitHub markdown) and its footnotes."""
    table = tabulate(zoo_rows(records), headers=HEADERS, tablefmt='github', disable_numparse=True)
    notes = sorted({r.throughput.note for r in records if r.throughput and r.throughput.note})
    return table + ''.join(f'\n\n\\* {note}.' for note in notes)


def check_measured(records: Sequence[ModelRecord]) -> list[dict]:
    """Recount each model's parameters and FLOPs at its FLOPs resolution.

    Returns:
        One dict per model: ``name``, ``shape``, ``params`` / ``flops`` (counted now),
        ``recorded_params`` / ``recorded_flops`` (the metafile's) and ``ok`` (both equal).
    """
    rows = []
    for r in records:
        got = model_complexity(r.config_path, r.flops_resolution)
        rows.append(
            dict(
                name=r.name,
                shape=got['shape'],
                params=got['params'],
                flops=got['flops'],
                recorded_params=r.measured_params,
                recorded_flops=r.measured_flops,
                ok=(got['params'], got['flops']) == (r.measured_params, r.measured_flops),
            )
        )
    return rows
