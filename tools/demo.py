"""The main job: DFvT-T end to end on the three built-in datasets.

1. Writes the built-in datasets under ``data/`` (``tools/data/make_toy_*.py``).
2. Trains and evaluates with ``tools/train.py`` (validation at the end of each schedule):
   the classifier (``configs/toy/dfvt_t_toy_in1k.py``), then Mask R-CNN and UperNet, whose
   backbones start from that classifier as the real configs start from ImageNet.
3. Draws predictions on validation images with the three inferencers, a Grad-CAM++ map of the
   classifier and the training curves, under ``work_dirs/demo/pictures/``.
4. Prints one table (top-1, bbox/segm mAP, mIoU, wall time per task) and writes it to
   ``work_dirs/demo/summary.json``.

Each run's full output goes to ``work_dirs/demo/logs/``; the screen shows progress. Run from the
repository root (``make demo``) or from any directory: ``data/`` and ``work_dirs/`` are made in
the current directory, as with the other tools.

Example:
    python tools/demo.py                  # all three tasks
    python tools/demo.py --tasks cls seg  # a subset (detection/segmentation need the classifier)
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

TOOLS = osp.dirname(osp.abspath(__file__))
CONFIGS = osp.join(TOOLS, '..', 'configs', 'toy')
OUT = osp.join('work_dirs', 'demo')
CLASSIFIER = osp.join('work_dirs', 'dfvt_t_toy_in1k')
TOY_CLASSES = ('circle', 'square', 'triangle', 'star', 'cross')


@dataclass
class Task:
    """One task of the main job: its dataset, config and the metrics it reports."""

    key: str
    name: str
    dataset: str
    make_data: str
    config: str
    metrics: dict[str, str]  # json log key -> label in the table
    chance: str
    images: list[str] = field(default_factory=list)  # validation images to draw


TASKS = {
    'cls': Task(
        'cls',
        'classification',
        'data/toy_imagenet',
        'make_toy_imagenet.py',
        'dfvt_t_toy_in1k.py',
        {'accuracy/top1': 'top-1 %'},
        'chance 20%',
        [f'data/toy_imagenet/val/{c}/{c}_00000.png' for c in TOY_CLASSES],
    ),
    'det': Task(
        'det',
        'detection',
        'data/toy_coco',
        'make_toy_coco.py',
        'mask_rcnn_dfvt_t_toy_coco.py',
        {'coco/bbox_mAP': 'bbox mAP', 'coco/segm_mAP': 'segm mAP'},
        'untrained 0.0',
        [f'data/toy_coco/val2017/{i:06d}.png' for i in (2, 3, 4)],
    ),
    'seg': Task(
        'seg',
        'segmentation',
        'data/toy_ade20k',
        'make_toy_ade20k.py',
        'upernet_dfvt_t_toy_ade20k.py',
        {'mIoU': 'mIoU %'},
        'all background 14.1',
        [f'data/toy_ade20k/images/validation/toy_validation_{i:05d}.jpg' for i in (0, 1, 2)],
    ),
}

TRAIN_EPOCH = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')
TRAIN_ITER = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]')
VAL = re.compile(r'(Epoch|Iter)\(val\)')


class Reporter:
    """Progress on a terminal (rich bars), or a line per 10% when the output is a log."""

    def __init__(self) -> None:
        self.console = Console()
        self.live = self.console.is_terminal
        self.progress = Progress(
            TextColumn('{task.description:<34}'),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.live,
        )
        self.last_tenth: dict[int, int] = {}

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def add(self, description: str, total: int) -> int:
        task_id = self.progress.add_task(description, total=total)
        self.last_tenth[task_id] = -1
        if not self.live:
            print(f'{time.strftime("%H:%M:%S")} {description} ...', flush=True)
        return task_id

    def update(self, task_id: int, completed: int, description: str | None = None) -> None:
        self.progress.update(task_id, completed=completed, description=description)
        total = self.progress.tasks[task_id].total or 1
        tenth = int(10 * completed / total)
        if not self.live and tenth > self.last_tenth[task_id]:
            self.last_tenth[task_id] = tenth
            name = self.progress.tasks[task_id].description
            print(f'{time.strftime("%H:%M:%S")} {name}: {completed}/{int(total)}', flush=True)


def run_logged(cmd: list[str], log_path: str, on_line=None) -> None:
    """Run a command with its output in ``log_path``; fail with the log's end if it fails."""
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        for line in proc.stdout:
            log.write(line)
            if on_line is not None:
                on_line(line)
        proc.wait()
    if proc.returncode != 0:
        with open(log_path) as log:
            tail = log.read()[-3000:]
        raise RuntimeError(
            f'{" ".join(cmd)} failed (exit {proc.returncode}); the end of {log_path}:\n{tail}'
        )


def train(task: Task, reporter: Reporter, logs: str) -> tuple[str, float]:
    """Train and validate one task with tools/train.py; returns its work dir and wall time."""
    from mmengine.config import Config

    config = osp.join(CONFIGS, task.config)
    train_cfg = Config.fromfile(config).train_cfg
    by_epoch = 'max_epochs' in train_cfg
    length = train_cfg.max_epochs if by_epoch else train_cfg.max_iters
    task_id = reporter.add(f'{task.name}: training', total=length)

    def on_line(line: str) -> None:
        done = reporter.progress.tasks[task_id].completed
        if by_epoch and (m := TRAIN_EPOCH.search(line)):
            epoch, it, per_epoch = map(int, m.groups())
            reporter.progress.update(task_id, total=length * per_epoch)
            reporter.update(task_id, (epoch - 1) * per_epoch + it, f'{task.name}: training')
        elif not by_epoch and (m := TRAIN_ITER.search(line)):
            reporter.update(task_id, int(m.group(1)), f'{task.name}: training')
        elif VAL.search(line):
            reporter.update(task_id, int(done), f'{task.name}: validating')

    work_dir = osp.join('work_dirs', osp.splitext(task.config)[0])
    start = time.perf_counter()
    run_logged(
        [sys.executable, osp.join(TOOLS, 'train.py'), config],
        osp.join(logs, f'train_{task.key}.log'),
        on_line,
    )
    seconds = time.perf_counter() - start
    reporter.update(task_id, int(reporter.progress.tasks[task_id].total), f'{task.name}: done')
    return work_dir, seconds


def checkpoint_of(work_dir: str) -> str:
    """The checkpoint a finished run left (mmengine writes its name to ``last_checkpoint``)."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return osp.relpath(f.read().strip())


def montage(pictures: list[np.ndarray], height: int = 256) -> np.ndarray:
    """Pictures side by side at one height, with a white gap."""
    gap = np.full((height, 8, 3), 255, np.uint8)
    row = []
    for pic in pictures:
        width = round(pic.shape[1] * height / pic.shape[0])
        row += [cv2.resize(pic, (width, height), interpolation=cv2.INTER_NEAREST), gap]
    return np.concatenate(row[:-1], axis=1)


def draw_predictions(task: Task, ckpt: str, out_dir: str) -> str:
    """Predictions of the trained model on a few validation images, as one picture.

    Runs in a process of its own (``--draw``), which keeps the inferencers' output in a log.
    """
    config = osp.join(CONFIGS, task.config)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    os.makedirs(out_dir, exist_ok=True)
    if task.key == 'cls':
        from mmpretrain.apis import ImageClassificationInferencer

        inferencer = ImageClassificationInferencer(config, pretrained=ckpt, device=device)
        show_dir = osp.join(out_dir, 'cls_vis')
        inferencer(task.images, show_dir=show_dir, resize=256)
        pictures = [cv2.imread(osp.join(show_dir, osp.basename(p))) for p in task.images]
    else:
        if task.key == 'det':
            from mmdet.apis import DetInferencer as Inferencer
        else:
            from mmseg.apis import MMSegInferencer as Inferencer
        inferencer = Inferencer(model=config, weights=ckpt, device=device)
        # Inputs at twice the size make the drawn labels readable. The test pipelines resize them
        # back by 1/2 (bilinear), which restores each pixel duplicated here exactly: the model
        # sees the validation image itself.
        images = []
        for src in task.images:
            big = cv2.resize(cv2.imread(src), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
            images.append(osp.join(out_dir, 'inputs', osp.splitext(osp.basename(src))[0] + '.png'))
            os.makedirs(osp.dirname(images[-1]), exist_ok=True)
            cv2.imwrite(images[-1], big)
        result = inferencer(images, return_vis=True, show=False)
        pictures = [vis[..., ::-1] for vis in result['visualization']]  # drawn in RGB
    path = osp.join(out_dir, f'{task.name}.png')
    if not cv2.imwrite(path, montage(pictures)):
        raise OSError(f'could not write {path}')
    return path


def extra_pictures(done: dict[str, dict], out_dir: str, logs: str) -> dict[str, str]:
    """Grad-CAM++ of the classifier and the training curves, through their tools."""
    pictures = {}
    if 'cls' in done:
        path = osp.join(out_dir, 'classification_gradcam.png')
        run_logged(
            [
                sys.executable,
                osp.join(TOOLS, 'visualization', 'vis_cam.py'),
                TASKS['cls'].images[3],  # a star
                osp.join(CONFIGS, TASKS['cls'].config),
                done['cls']['checkpoint'],
                '--save-path',
                path,
            ],
            osp.join(logs, 'vis_cam.log'),
        )
        pictures['gradcam'] = path
    for key, info in done.items():
        path = osp.join(out_dir, f'{TASKS[key].name}_curves.png')
        run_logged(
            [
                sys.executable,
                osp.join(TOOLS, 'analysis', 'analyze_logs.py'),
                'plot-curve',
                info['work_dir'],
                '--keys',
                'loss',
                *TASKS[key].metrics,
                '--out',
                path,
            ],
            osp.join(logs, f'curves_{key}.log'),
        )
        pictures[f'{key}_curves'] = path
    return pictures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--tasks', nargs='+', choices=list(TASKS), default=list(TASKS), help='tasks to run'
    )
    parser.add_argument('--draw', nargs=3, help=argparse.SUPPRESS)  # TASK CKPT OUT_DIR
    args = parser.parse_args()
    if args.draw:
        draw_predictions(TASKS[args.draw[0]], args.draw[1], args.draw[2])
        return
    # mmengine 0.10.7 imports pkg_resources (kept by the setuptools<82 pin); its deprecation
    # notice would interleave with the progress display. The runs' logs keep it.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
    from dfvt_mm.utils.logs import last_metric

    tasks = [TASKS[k] for k in TASKS if k in args.tasks]
    if 'cls' not in args.tasks and not osp.exists(osp.join(CLASSIFIER, 'last_checkpoint')):
        parser.error(
            f'detection and segmentation start from the toy classifier, and {CLASSIFIER} has '
            'none: run with --tasks cls too (or first)'
        )

    logs, pictures_dir = osp.join(OUT, 'logs'), osp.join(OUT, 'pictures')
    os.makedirs(logs, exist_ok=True)
    os.makedirs(pictures_dir, exist_ok=True)
    start = time.perf_counter()
    done: dict[str, dict] = {}
    with Reporter() as reporter:
        data_id = reporter.add('writing the datasets', total=len(tasks))
        for i, task in enumerate(tasks, 1):
            run_logged(
                [sys.executable, osp.join(TOOLS, 'data', task.make_data), task.dataset],
                osp.join(logs, f'data_{task.key}.log'),
            )
            reporter.update(data_id, i)
        for task in tasks:
            work_dir, seconds = train(task, reporter, logs)
            done[task.key] = dict(
                config=f'configs/toy/{task.config}',
                work_dir=work_dir,
                checkpoint=checkpoint_of(work_dir),
                metrics={key: last_metric(work_dir, key) for key in task.metrics},
                wall_time_s=round(seconds, 1),
            )
        pic_id = reporter.add('drawing predictions', total=len(tasks) + 1)
        for i, task in enumerate(tasks, 1):
            ckpt = done[task.key]['checkpoint']
            run_logged(
                [sys.executable, __file__, '--draw', task.key, ckpt, pictures_dir],
                osp.join(logs, f'draw_{task.key}.log'),
            )
            done[task.key]['picture'] = osp.join(pictures_dir, f'{task.name}.png')
            reporter.update(pic_id, i)
        extras = extra_pictures(done, pictures_dir, logs)
        reporter.update(pic_id, len(tasks) + 1)
    total = time.perf_counter() - start

    summary = dict(
        tasks={TASKS[k].name: v for k, v in done.items()},
        extra_pictures=extras,
        total_wall_time_s=round(total, 1),
        machine=dict(
            device=torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu',
            cpu_count=os.cpu_count(),
            torch_threads=torch.get_num_threads(),
            python=platform.python_version(),
            torch=torch.__version__,
        ),
    )
    with open(osp.join(OUT, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)

    table = Table(title='DFvT-T on the built-in datasets')
    for column in ('task', 'metric', 'value', 'reference', 'wall time'):
        table.add_column(column)
    for key, info in done.items():
        task = TASKS[key]
        table.add_row(
            task.name,
            ', '.join(task.metrics.values()),
            ', '.join(f'{info["metrics"][metric]:.3g}' for metric in task.metrics),
            task.chance,
            f'{info["wall_time_s"] / 60:.1f} min',
        )
    # A log (not a terminal) gets a fixed width, so the table never wraps its numbers.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    console.print(table)
    console.print(f'total {total / 60:.1f} min; summary: {osp.join(OUT, "summary.json")}')
    for path in [info['picture'] for info in done.values()] + list(extras.values()):
        console.print(f'picture: {path}')
    console.print(f'logs: {logs}/')
    for info in done.values():
        console.print(f'checkpoint: {info["checkpoint"]}')


if __name__ == '__main__':
    main()
