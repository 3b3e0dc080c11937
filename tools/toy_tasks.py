"""The main job (``make demo``): DFvT-T end to end on the three built-in toy tasks.

Writes the datasets under ``data/``, trains and evaluates the toy classifier, then Mask R-CNN and
UperNet whose backbones start from it (``configs/toy/``, with ``dfvt_mm.engine.train``), draws the
trained models' predictions, a Grad-CAM++ map and the training curves, and prints one table. The
work is :func:`dfvt_mm.toy.main_job.run`; the summary is also written to
``work_dirs/main_job/summary.json``. ``data/`` and ``work_dirs/`` are made in the current
directory, as with the other tools.

Example:
    python tools/toy_tasks.py                  # all three tasks
    python tools/toy_tasks.py --seed 1         # another training seed
    python tools/toy_tasks.py --tasks cls seg  # a subset (detection/segmentation need cls)
"""

import argparse
import os.path as osp
import sys
import time
import warnings

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dfvt_mm.toy.main_job import TOY_TASKS, run


class Reporter:
    """Progress bars on a terminal; on a log, one line per tenth of each step."""

    def __init__(self, console: Console) -> None:
        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn('{task.description:<34}'),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not self.live,
        )
        self.tenths: dict[int, int] = {}

    def add(self, description: str, total: int) -> int:
        task_id = self.progress.add_task(description, total=total)
        self.tenths[task_id] = -1
        if not self.live:
            print(f'{time.strftime("%H:%M:%S")} {description} ...', flush=True)
        return task_id

    def update(self, task_id: int, completed: int, description=None, total=None) -> None:
        self.progress.update(task_id, completed=completed, description=description, total=total)
        task = self.progress.tasks[task_id]
        tenth = int(10 * completed / (task.total or 1))
        if not self.live and tenth > self.tenths[task_id]:
            self.tenths[task_id] = tenth
            print(f'{time.strftime("%H:%M:%S")} {task.description}: {completed}/{task.total:.0f}')


def print_summary(summary: dict, console: Console) -> None:
    table = Table(title=f'DFvT-T on the built-in datasets (seed {summary["seed"]})')
    for column in ('task', 'metric', 'value', 'reference', 'wall time'):
        table.add_column(column)
    for task in TOY_TASKS.values():
        info = summary['tasks'].get(task.name)
        if info is None:
            continue
        table.add_row(
            task.name,
            ', '.join(task.metrics.values()),
            ', '.join(f'{info["metrics"][key]:.3g}' for key in task.metrics),
            task.reference,
            f'{info["wall_time_s"] / 60:.1f} min',
        )
    console.print(table)
    console.print(f'total {summary["total_wall_time_s"] / 60:.1f} min')
    pictures = [info['picture'] for info in summary['tasks'].values()]
    for path in pictures + list(summary['extra_pictures'].values()):
        console.print(f'picture: {path}')
    for info in summary['tasks'].values():
        console.print(f'checkpoint: {info["checkpoint"]}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--tasks', nargs='+', choices=list(TOY_TASKS), default=list(TOY_TASKS), help='tasks to run'
    )
    parser.add_argument('--seed', type=int, default=0, help='training seed of every run')
    parser.add_argument(
        '--out-dir', default='work_dirs/main_job', help='summary, logs and pictures'
    )
    args = parser.parse_args()
    # mmengine 0.10.7 imports pkg_resources (kept by the setuptools<82 pin); its deprecation
    # notice would interleave with the progress display. The runs' logs keep it.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
    # A log (not a terminal) gets a fixed width, so the table never wraps its numbers.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    reporter = Reporter(console)
    try:
        with reporter.progress:
            summary = run(args.tasks, args.out_dir, args.seed, reporter)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        sys.exit(f'error: {e}')
    print_summary(summary, console)
    console.print(f'summary: {osp.join(args.out_dir, "summary.json")}')
    console.print(f'logs: {osp.join(args.out_dir, "logs")}/')


if __name__ == '__main__':
    main()
