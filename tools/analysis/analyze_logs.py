"""Plot loss / metric curves from mmengine's json logs of one or more runs into a PNG, or compute
the average time of a training iteration.

mmengine writes ``WORK_DIR/<timestamp>/vis_data/<timestamp>.json``, one JSON object per line.
Training lines carry ``iter`` (and ``epoch`` in epoch-based runs), ``lr``, the losses and
``time``; validation lines carry the metrics (``accuracy/top1``, ``coco/bbox_mAP``, ``mIoU``) and
``step``: the epoch in epoch-based runs, the iteration in iteration-based ones (mmseg's). A key
found in training lines is a training curve (plotted against the iteration), any other key a
validation curve (against the epoch or iteration). Each key gets its own subplot, each run its
own line. A LOG is a json log or a work dir (its newest training log is used). Losses and times
are as mmengine logs them: means over the last ``log_processor.window_size`` (10) iterations.

Examples:
    python tools/analysis/analyze_logs.py plot-curve work_dirs/run1 work_dirs/run2 \\
        --keys loss accuracy/top1 --legend run1 run2 --out curves.png
    python tools/analysis/analyze_logs.py cal-train-time work_dirs/run1
"""

from __future__ import annotations

import argparse
import math
import os
import os.path as osp
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dfvt_mm.utils.logs import find_json_log, load_json_log

# Where a line sits in the run, not a quantity to plot.
COORDINATES = ('epoch', 'iter', 'step')


@dataclass
class Series:
    """One curve of one run.

    Args:
        key: The logged name (``loss``, ``accuracy/top1``).
        phase: ``'train'`` or ``'val'``.
        x: The iterations (training) or the epochs / iterations (validation).
        y: The logged values.
        x_label: ``'iter'`` or ``'epoch'``.
    """

    key: str
    phase: str
    x: np.ndarray
    y: np.ndarray
    x_label: str


def run_name(path: str) -> str:
    """A short name for a run: its work dir's name (``work_dirs/NAME/<ts>/vis_data/<ts>.json``),
    else the file's."""
    json_log = osp.abspath(find_json_log(path))
    parent = osp.dirname(json_log)
    if osp.basename(parent) == 'vis_data':
        return osp.basename(osp.dirname(osp.dirname(parent)))
    return osp.splitext(osp.basename(json_log))[0]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def available_keys(log: dict[str, list[dict]]) -> list[str]:
    """The numeric keys of a log that :func:`get_series` can return."""
    keys = {k for entries in log.values() for e in entries for k, v in e.items() if _is_number(v)}
    return sorted(keys - set(COORDINATES))


def val_x_label(log: dict[str, list[dict]]) -> str:
    """What the validation lines' ``step`` counts: epochs in epoch-based runs (mmengine's
    ``LoggerHook(log_metric_by_epoch=True)``, the default), iterations otherwise."""
    epochs = [e['epoch'] for e in log['train'] if 'epoch' in e]
    steps = [e['step'] for e in log['val'] if 'step' in e]
    if epochs and steps and max(steps) <= max(epochs):
        return 'epoch'
    return 'iter'


def get_series(log: dict[str, list[dict]], key: str) -> Series:
    """The curve of ``key`` in one run: from the training lines if they carry it (``loss``,
    ``lr``, ``time``), else from the validation lines.

    Raises:
        KeyError: The log has no such key; the message lists those it has.
    """
    if key in COORDINATES:
        raise KeyError(f'{key!r} is a coordinate, not a curve; keys: {available_keys(log)}')
    for phase in ('train', 'val'):
        entries = [e for e in log[phase] if _is_number(e.get(key))]
        if entries:
            x = [e.get('iter', e.get('step')) if phase == 'train' else e['step'] for e in entries]
            label = 'iter' if phase == 'train' else val_x_label(log)
            return Series(key, phase, np.array(x), np.array([e[key] for e in entries]), label)
    raise KeyError(f'no {key!r} in the log; keys: {available_keys(log)}')


def load_series(json_logs: Sequence[str], keys: Sequence[str]) -> list[dict[str, Series | None]]:
    """The curves of ``keys`` in each run: one dict per log, ``None`` where a run lacks a key.

    Raises:
        ValueError: A key is in none of the logs (the message lists the keys they have).
    """
    logs = [load_json_log(p) for p in json_logs]
    series: list[dict[str, Series | None]] = [{} for _ in logs]
    for key in keys:
        for log, curves in zip(logs, series):
            try:
                curves[key] = get_series(log, key)
            except KeyError:
                curves[key] = None
        if all(curves[key] is None for curves in series):
            existing = sorted({k for log in logs for k in available_keys(log)})
            raise ValueError(f'{key!r} is in none of the logs {list(json_logs)}; keys: {existing}')
    return series


def plot_curves(
    json_logs: Sequence[str],
    keys: Sequence[str],
    out: str,
    legend: Sequence[str] | None = None,
    title: str | None = None,
) -> list[dict[str, Series | None]]:
    """Draw one subplot per key with one line per run and save the figure to ``out``.

    Returns:
        The plotted curves, as :func:`load_series`.
    """
    legend = list(legend) if legend else [run_name(p) for p in json_logs]
    if len(legend) != len(json_logs):
        raise ValueError(f'{len(legend)} legend names for {len(json_logs)} logs')
    series = load_series(json_logs, keys)
    cols = min(len(keys), 2)
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(6 * cols, 3.8 * rows), layout='constrained')
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, key in zip(axes, keys):
        labels = []
        for name, curves in zip(legend, series):
            s = curves[key]
            if s is None:
                print(f'{name}: no {key!r}, not drawn')
                continue
            # Validation has a handful of points: show them.
            style = dict(marker='o', markersize=4) if s.phase == 'val' else dict(linewidth=1)
            ax.plot(s.x, s.y, label=name, **style)
            labels.append(s.x_label)
        ax.set_title(key)
        ax.set_xlabel(' / '.join(dict.fromkeys(labels)))
        ax.set_ylabel(key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations and epochs
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    return series


def train_time(log: dict[str, list[dict]], include_outliers: bool = False) -> dict:
    """Seconds per training iteration, overall and per epoch, from the logged ``time``.

    Each line's ``time`` is mmengine's mean over the last ``log_processor.window_size`` (10)
    iterations. An epoch's first line also covers the data loader's start, so per-epoch means
    leave it out unless ``include_outliers`` (as mmpretrain's tool does); the overall mean keeps
    every line.

    Returns:
        ``avg`` (s/iter), ``iters`` (the last logged iteration), ``total`` (``avg * iters``) and,
        for epoch-based runs, ``epochs`` (epoch -> s/iter).
    """
    lines = [e for e in log['train'] if _is_number(e.get('time'))]
    if not lines:
        raise ValueError('the log has no training lines with a time')
    avg = float(np.mean([e['time'] for e in lines]))
    iters = int(max(e.get('iter', e.get('step', 0)) for e in lines))
    result = dict(avg=avg, iters=iters, total=avg * iters, epochs={})
    if all('epoch' in e for e in lines):
        for epoch, group in groupby(lines, key=lambda e: e['epoch']):
            times = [e['time'] for e in group]
            if not include_outliers and len(times) > 1:
                times = times[1:]
            result['epochs'][epoch] = float(np.mean(times))
    return result


def print_train_time(path: str, include_outliers: bool = False) -> None:
    t = train_time(load_json_log(path), include_outliers)
    print(f'{find_json_log(path)}')
    if t['epochs']:
        epochs = t['epochs']
        slow, fast = max(epochs, key=epochs.get), min(epochs, key=epochs.get)
        print(f'  slowest epoch {slow}: {epochs[slow]:.4g} s/iter')
        print(f'  fastest epoch {fast}: {epochs[fast]:.4g} s/iter')
        print(f'  std over epochs: {np.std(list(epochs.values())):.4g} s/iter')
    print(f'  average iter time: {t["avg"]:.4g} s/iter')
    print(f'  training time: {t["total"]:.4g} s for {t["iters"]} iterations (average x iterations)')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tasks = parser.add_subparsers(dest='task', required=True)
    # mmpretrain's tool spells the tasks with underscores; accept both.
    plot = tasks.add_parser('plot-curve', aliases=['plot_curve'], help='plot curves into a PNG')
    plot.add_argument('logs', nargs='+', help='json logs or work dirs')
    plot.add_argument('--keys', nargs='+', default=['loss'], help='logged keys, one subplot each')
    plot.add_argument('--legend', nargs='+', help='run names (default: the work dir names)')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--out', default='curves.png', help='output picture')
    timing = tasks.add_parser(
        'cal-train-time', aliases=['cal_train_time'], help='average time of a training iteration'
    )
    timing.add_argument('logs', nargs='+', help='json logs or work dirs')
    timing.add_argument(
        '--include-outliers',
        action='store_true',
        help="keep each epoch's first line (data loader start) in the per-epoch means",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.task in ('plot-curve', 'plot_curve'):
        plot_curves(args.logs, args.keys, args.out, args.legend, args.title)
        print(f'saved {", ".join(args.keys)} of {len(args.logs)} run(s) to {args.out}')
    else:
        for path in args.logs:
            print_train_time(path, args.include_outliers)


if __name__ == '__main__':
    main()
