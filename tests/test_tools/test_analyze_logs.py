"""mmpretrain's log analysis on json logs that mmengine's Runner really wrote: its
``load_json_log`` (``mmpretrain.utils``, which ``dfvt_mm.utils.logs`` uses) and its
``analyze_logs`` tool through ``mim run``, on an epoch-based run (as the classification and
detection configs) and an iteration-based one (as the segmentation configs)."""

import glob
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from mmengine.evaluator import BaseMetric
from mmengine.runner import Runner
from mmpretrain.utils import load_json_log
from torch.utils.data import DataLoader

from dfvt_mm.utils import logs
from tests.toy_runner import ToyData, ToyModel


class ToyMetric(BaseMetric):
    """A score that rises as the error falls, logged as ``<prefix>/<name>`` (or ``<name>``);
    remembers what it reported."""

    def __init__(self, name, prefix=None):
        super().__init__(prefix=prefix)
        self.name = name
        self.reported = []

    def process(self, data_batch, data_samples):
        self.results += [float((out - target) ** 2) for out, target in data_samples]

    def compute_metrics(self, results):
        value = 100.0 / (1.0 + float(np.mean(results)))
        self.reported.append(value)
        return {self.name: value}


def train(work_dir, name, lr, by_epoch=True):
    """Train the toy model: 3 epochs of 2 iterations (validated each epoch, metrics named like
    mmpretrain's and mmdet's) or 6 iterations (validated every 2, named like mmseg's)."""
    if by_epoch:
        metrics = [ToyMetric('top1', 'accuracy'), ToyMetric('bbox_mAP', 'coco')]
        train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)
    else:
        metrics = [ToyMetric('mIoU')]
        train_cfg = dict(by_epoch=False, max_iters=6, val_interval=2)
    runner = Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=DataLoader(ToyData(scale=1 / 8), batch_size=4, shuffle=False),
        val_dataloader=DataLoader(ToyData(scale=1 / 8), batch_size=4),
        val_cfg=dict(),
        val_evaluator=metrics,
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=by_epoch),
            checkpoint=None,
        ),
        log_processor=dict(by_epoch=by_epoch),
        default_scope='mmengine',
    )
    runner.train()
    logs = glob.glob(str(work_dir / '*' / 'vis_data' / '*.json'))
    (log,) = [p for p in logs if not p.endswith('scalars.json')]
    return log, [m.reported for m in metrics]


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('analyze_logs')
    torch.manual_seed(0)
    return dict(
        cls_a=(root / 'cls_a', *train(root / 'cls_a', 'cls_a', lr=0.1)),
        cls_b=(root / 'cls_b', *train(root / 'cls_b', 'cls_b', lr=0.02)),
        seg=(root / 'seg', *train(root / 'seg', 'seg', lr=0.1, by_epoch=False)),
    )


def mim_analyze_logs(*args):
    """``mim run mmpretrain analyze_logs ...``, as the main job runs it."""
    cmd = [sys.executable, '-m', 'mim', 'run', 'mmpretrain', 'analyze_logs', *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_epoch_based_log(runs):
    work_dir, log, (top1, bbox_map) = runs['cls_a']
    assert logs.find_json_log(str(work_dir)) == log
    data = load_json_log(log)
    assert logs.load_json_log(str(work_dir)) == data
    lines = read_lines(log)
    # Training lines are the ones with a learning rate: 3 epochs of 2 iterations.
    assert data['train'] == [e for e in lines if 'lr' in e]
    assert [e['step'] for e in data['train']] == [1, 2, 3, 4, 5, 6]
    assert [e['epoch'] for e in data['train']] == [1, 1, 2, 2, 3, 3]
    # Validated after each epoch (step = the epoch); the values are what the metrics computed.
    assert [e['step'] for e in data['val']] == [1, 2, 3]
    np.testing.assert_allclose([e['accuracy/top1'] for e in data['val']], top1, rtol=1e-6)
    np.testing.assert_allclose([e['coco/bbox_mAP'] for e in data['val']], bbox_map, rtol=1e-6)
    assert len(set(top1)) == 3  # training changed the model between validations


def test_iteration_based_log(runs):
    _, log, (miou,) = runs['seg']
    data = load_json_log(log)
    assert not any('epoch' in e for e in data['train'])
    assert [e['step'] for e in data['train']] == [1, 2, 3, 4, 5, 6]
    # Validated every 2 iterations (step = the iteration).
    assert [e['step'] for e in data['val']] == [2, 4, 6]
    np.testing.assert_allclose([e['mIoU'] for e in data['val']], miou, rtol=1e-6)


@pytest.mark.parametrize(
    'run, keys', [('cls_a', ['loss', 'accuracy/top1', 'coco/bbox_mAP']), ('seg', ['loss', 'mIoU'])]
)
def test_plot_curve(runs, run, keys, tmp_path):
    out = tmp_path / 'curves.png'
    result = mim_analyze_logs('plot_curve', runs[run][1], '--keys', *keys, '--out', out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for key in keys:
        assert f'metric is {key}' in result.stdout
    image = imread(out)
    assert image.shape[:2] == (700, 1200)  # mmpretrain's default window, 12 x 7 inches
    assert image[..., :3].std() > 0.05  # something is drawn


def test_unknown_key_is_refused(runs):
    result = mim_analyze_logs('plot_curve', runs['seg'][1], '--keys', 'coco/segm_mAP')
    assert result.returncode != 0
    assert 'Invalid key "coco/segm_mAP"' in result.stderr


def test_cal_train_time(runs):
    _, log, _ = runs['cls_a']
    result = mim_analyze_logs('cal_train_time', log)
    assert result.returncode == 0, result.stderr[-3000:]
    avg = float(re.search(r'average iter time: ([0-9.]+) s/iter', result.stdout).group(1))
    times = [e['time'] for e in read_lines(log) if 'lr' in e]
    assert avg == pytest.approx(np.mean(times), abs=5e-5)  # printed to 4 decimals
    assert 'slowest epoch' in result.stdout and 'fastest epoch' in result.stdout
