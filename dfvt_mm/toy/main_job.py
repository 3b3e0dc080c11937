"""The main job: DFvT-T end to end on the three built-in toy tasks.

For each task: write its dataset (:mod:`dfvt_mm.toy.data`), train and evaluate it in a process of
its own (:func:`dfvt_mm.utils.process.train_command`, the configs under ``configs/toy/``;
detection and segmentation start from the toy classifier, as the real configs start from
ImageNet), then draw the trained models' predictions with the three inferencers. :func:`run` does
it all and returns a summary; ``tools/toy_tasks.py`` is its command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import os.path as osp
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ..utils.logs import find_json_log, last_metric
from ..utils.machine import machine
from ..utils.paths import resolve
from ..utils.process import run_logged, train_command
from ..utils.tasks import TASKS
from .data import write_ade20k, write_classification, write_coco
from .shapes import SHAPES


@dataclass(frozen=True)
class ToyTask:
    """One task of the main job.

    Attributes:
        key: The task (a key of :data:`~dfvt_mm.utils.tasks.TASKS`).
        config: Config file name under ``configs/toy/``.
        data_root: Where its dataset is written.
        write_data: Writes the dataset to ``data_root``.
        metrics: Metric keys of mmengine's json log -> their label in the table.
        reference: What a model without skill scores, for the table.
        samples: Validation images (under ``data_root``) that the pictures show.
    """

    key: str
    config: str
    data_root: str
    write_data: Callable[[str], dict]
    metrics: dict[str, str]
    reference: str
    samples: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """The task's name in the table (``classification``...)."""
        return TASKS[self.key].name

    @property
    def config_path(self) -> str:
        """The config file (:func:`dfvt_mm.utils.paths.resolve`: a checkout's or a wheel's)."""
        return resolve(osp.join('configs', 'toy', self.config))


#: The main job's tasks, by key of :data:`~dfvt_mm.utils.tasks.TASKS`, in the order they run.
TOY_TASKS = {
    task.key: task
    for task in (
        ToyTask(
            key='cls',
            config='dfvt_t_toy_in1k.py',
            data_root='data/toy_imagenet',
            write_data=write_classification,
            metrics={'accuracy/top1': 'top-1 %'},
            reference='chance 20%',
            samples=tuple(f'val/{c}/{c}_00000.png' for c in SHAPES),
        ),
        ToyTask(
            key='det',
            config='mask_rcnn_dfvt_t_toy_coco.py',
            data_root='data/toy_coco',
            write_data=write_coco,
            metrics={'coco/bbox_mAP': 'bbox mAP', 'coco/segm_mAP': 'segm mAP'},
            reference='no detections 0.0',
            # Between them the five shapes (the seeded dataset is the same on every machine).
            samples=tuple(f'val2017/{i:06d}.png' for i in (2, 9, 19)),
        ),
        ToyTask(
            key='seg',
            config='upernet_dfvt_t_toy_ade20k.py',
            data_root='data/toy_ade20k',
            write_data=write_ade20k,
            metrics={'mIoU': 'mIoU %'},
            reference='all background 13.2',
            samples=tuple(f'images/validation/toy_validation_{i:05d}.jpg' for i in (0, 1, 2)),
        ),
    )
}
#: Where the classifier that detection and segmentation start from is trained.
CLASSIFIER_WORK_DIR = 'work_dirs/dfvt_t_toy_in1k'


def work_dir_of(task: ToyTask) -> str:
    """The task's work dir: ``work_dirs/<config name>``, as the train tool names it."""
    return osp.join('work_dirs', osp.splitext(task.config)[0])


def checkpoint_of(work_dir: str) -> str:
    """The checkpoint a finished run left (mmengine writes its path to ``last_checkpoint``)."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return osp.relpath(f.read().strip())


def run_config(config: str, work_dir: str, seed: int) -> str:
    """A config that runs ``config`` with ``seed`` and reports progress to
    ``work_dir/progress.json`` (:class:`~dfvt_mm.engine.ProgressHook`); returns its path."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'main_job_' + osp.basename(config))
    progress = osp.join(work_dir, 'progress.json')
    with open(path, 'w') as f:
        f.write(
            f'_base_ = [{osp.abspath(config)!r}]\n'
            "custom_imports = dict(imports=['dfvt_mm'], allow_failed_imports=False)\n"
            f'randomness = dict(seed={seed})\n'
            f"custom_hooks = [dict(type='ProgressHook', path={progress!r})]\n"
        )
    return path


def train(
    task: ToyTask,
    seed: int,
    log_path: str,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> float:
    """Train and validate one task in a process of its own; returns the wall time in seconds.

    The run's output goes to ``log_path``; ``on_progress(phase, iter, max_iters)`` is called as
    the run's :class:`~dfvt_mm.engine.ProgressHook` reports.

    Raises:
        RuntimeError: The run failed; the message ends with the end of its log.
    """
    work_dir = work_dir_of(task)
    progress = osp.join(work_dir, 'progress.json')
    if osp.exists(progress):
        os.remove(progress)
    config = run_config(task.config_path, work_dir, seed)
    seen = None

    def poll() -> None:
        nonlocal seen
        if on_progress is None or not osp.exists(progress):
            return
        with open(progress) as f:
            state = json.load(f)
        if state != seen:
            seen = state
            on_progress(state['phase'], state['iter'], state['max_iters'])

    return run_logged(train_command(config, work_dir), log_path, poll)


def montage(pictures: Sequence[np.ndarray], height: int = 256) -> np.ndarray:
    """Pictures side by side at one height, with a white gap."""
    gap = np.full((height, 8, 3), 255, np.uint8)
    row = []
    for pic in pictures:
        width = round(pic.shape[1] * height / pic.shape[0])
        row += [cv2.resize(pic, (width, height), interpolation=cv2.INTER_NEAREST), gap]
    return np.concatenate(row[:-1], axis=1)


def draw_predictions(
    task: ToyTask, config: str, checkpoint: str, out_dir: str, score_thr: float = 0.5
) -> str:
    """The trained model's predictions on the task's sample images, side by side in one picture
    ``out_dir/<task name>.png``, drawn by the task's inferencer; returns the picture's path."""
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    images = [osp.join(task.data_root, sample) for sample in task.samples]
    os.makedirs(out_dir, exist_ok=True)
    if task.key == 'cls':
        from mmpretrain.apis import ImageClassificationInferencer

        inferencer = ImageClassificationInferencer(config, pretrained=checkpoint, device=device)
        show_dir = osp.join(out_dir, 'cls_vis')
        inferencer(images, show_dir=show_dir, resize=256)
        pictures = [cv2.imread(osp.join(show_dir, osp.basename(p))) for p in images]
    else:
        if task.key == 'det':
            from mmdet.apis import DetInferencer as Inferencer

            options = dict(pred_score_thr=score_thr)
        else:
            from mmseg.apis import MMSegInferencer as Inferencer

            options = {}
        inferencer = Inferencer(model=config, weights=checkpoint, device=device)
        # Inputs at twice the size make the drawn labels readable. The test pipelines resize them
        # back by 1/2 (bilinear), which restores each pixel duplicated here exactly: the model
        # sees the validation image itself. They go in as files: the inferencers draw an array
        # input as if it were RGB, while their pipelines read it as BGR.
        os.makedirs(osp.join(out_dir, 'inputs'), exist_ok=True)
        inputs = []
        for src in images:
            name = f'{task.key}_{osp.splitext(osp.basename(src))[0]}.png'
            inputs.append(osp.join(out_dir, 'inputs', name))
            big = cv2.resize(cv2.imread(src), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(inputs[-1], big)
        result = inferencer(inputs, return_vis=True, show=False, **options)
        pictures = [vis[..., ::-1] for vis in result['visualization']]  # drawn in RGB
    path = osp.join(out_dir, f'{task.name}.png')
    if not cv2.imwrite(path, montage(pictures)):
        raise OSError(f'could not write {path}')
    return path


def extra_pictures(done: dict[str, dict], out_dir: str, logs: str) -> dict:
    """A Grad-CAM++ map of the classifier and each run's training curves, drawn by mmpretrain's
    tools: ``vis_cam`` (through ``tools/visualization/vis_cam.py``, which lets it run on DFvT)
    and ``analyze_logs plot_curve`` (``mim run``, on the run's json log); returns their paths by
    name."""
    pictures = {}
    if 'cls' in done:
        task = TOY_TASKS['cls']
        sample = osp.join(task.data_root, task.samples[SHAPES.index('star')])
        overlay = osp.join(logs, 'gradcam_overlay.png')
        run_logged(
            [
                sys.executable,
                resolve('tools/visualization/vis_cam.py'),
                sample,
                task.config_path,
                done['cls']['checkpoint'],
                '--method',
                'GradCAM++',
                '--save-path',
                overlay,
            ],
            osp.join(logs, 'vis_cam.log'),
        )
        # mmpretrain saves the overlay at the test pipeline's size (64x64 here): shown beside the
        # image (which that pipeline leaves as it is), both 256 pixels high.
        path = osp.join(out_dir, 'classification_gradcam.png')
        if not cv2.imwrite(path, montage([cv2.imread(sample), cv2.imread(overlay)])):
            raise OSError(f'could not write {path}')
        pictures['gradcam'] = path
    for key, info in done.items():
        task = TOY_TASKS[key]
        path = osp.join(out_dir, f'{task.name}_curves.png')
        keys = ['loss', *task.metrics]
        run_logged(
            [
                sys.executable,
                *('-m', 'mim', 'run', 'mmpretrain', 'analyze_logs', 'plot_curve'),
                find_json_log(info['work_dir']),
                *('--keys', *keys, '--legend', *keys),
                *('--title', f'DFvT-T, toy {task.name}', '--out', path),
            ],
            osp.join(logs, f'curves_{key}.log'),
        )
        pictures[f'{key}_curves'] = path
    return pictures


def run(
    tasks: Sequence[str],
    out_dir: str = 'work_dirs/main_job',
    seed: int = 0,
    reporter=None,
) -> dict:
    """Run the main job in the current directory (``data/`` and ``work_dirs/`` are made there).

    Args:
        tasks: Keys of :data:`TOY_TASKS` to run; detection and segmentation need the toy
            classifier (task ``cls`` too, which runs first, or a finished run in
            :data:`CLASSIFIER_WORK_DIR`).
        out_dir: Where the summary, logs and pictures go.
        seed: Training seed of every run (the datasets are fixed).
        reporter: Gets ``add(description, total) -> id`` and ``update(id, done, description)``
            calls as the job goes; None reports nothing.

    Returns:
        The summary (also written to ``out_dir/summary.json``): per task its metrics, wall time,
        work dir, checkpoint and picture; the seed, the total wall time and the machine.
    """
    unknown = [key for key in tasks if key not in TOY_TASKS]
    if unknown:
        raise ValueError(f'unknown tasks {unknown}; the main job has {list(TOY_TASKS)}')
    if 'cls' not in tasks and not osp.exists(osp.join(CLASSIFIER_WORK_DIR, 'last_checkpoint')):
        raise FileNotFoundError(
            'detection and segmentation start from the toy classifier, and '
            f'{CLASSIFIER_WORK_DIR} has none: run the classification task too (or first)'
        )
    reporter = reporter or _SilentReporter()
    logs, pictures_dir = osp.join(out_dir, 'logs'), osp.join(out_dir, 'pictures')
    os.makedirs(logs, exist_ok=True)
    start = time.perf_counter()
    ordered = [task for key, task in TOY_TASKS.items() if key in tasks]

    data_id = reporter.add('writing the datasets', len(ordered))
    for i, task in enumerate(ordered, 1):
        task.write_data(task.data_root)
        reporter.update(data_id, i)

    done: dict[str, dict] = {}
    for task in ordered:
        task_id = reporter.add(f'{task.name}: training', 1)

        def on_progress(phase, it, total, task=task, task_id=task_id):
            state = {'train': 'training', 'val': 'validating', 'done': 'done'}[phase]
            reporter.update(task_id, it, f'{task.name}: {state}', total=total)

        seconds = train(task, seed, osp.join(logs, f'train_{task.key}.log'), on_progress)
        work_dir = work_dir_of(task)
        done[task.key] = dict(
            config=f'configs/toy/{task.config}',
            work_dir=work_dir,
            checkpoint=checkpoint_of(work_dir),
            metrics={key: last_metric(work_dir, key) for key in task.metrics},
            wall_time_s=round(seconds, 1),
        )

    draw_id = reporter.add('drawing predictions', len(ordered) + 1)
    # The inferencers print model-loading notes and warnings: they go to a log, not the screen.
    with open(osp.join(logs, 'draw.log'), 'w') as log:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            for i, task in enumerate(ordered, 1):
                done[task.key]['picture'] = draw_predictions(
                    task, task.config_path, done[task.key]['checkpoint'], pictures_dir
                )
                reporter.update(draw_id, i)
    extras = extra_pictures(done, pictures_dir, logs)
    reporter.update(draw_id, len(ordered) + 1)
    summary = dict(
        tasks={TOY_TASKS[key].name: info for key, info in done.items()},
        extra_pictures=extras,
        seed=seed,
        total_wall_time_s=round(time.perf_counter() - start, 1),
        machine=machine(),
    )
    with open(osp.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


class _SilentReporter:
    def add(self, description: str, total: int) -> int:
        return 0

    def update(self, task_id: int, completed: int, description=None, total=None) -> None:
        pass


__all__ = ['TOY_TASKS', 'ToyTask', 'draw_predictions', 'run', 'train']
