"""tools/analysis/analyze_logs.py on json logs that mmengine's Runner really wrote."""

import glob
import json
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from mmengine.evaluator import BaseMetric
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from tests.conftest import REPO_ROOT, load_tool
from tests.toy_runner import ToyData, ToyModel

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'analyze_logs.py')


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
def tool():
    return load_tool('analysis', 'analyze_logs.py')


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('analyze_logs')
    torch.manual_seed(0)
    return dict(
        cls_a=(root / 'cls_a', *train(root / 'cls_a', 'cls_a', lr=0.1)),
        cls_b=(root / 'cls_b', *train(root / 'cls_b', 'cls_b', lr=0.02)),
        seg=(root / 'seg', *train(root / 'seg', 'seg', lr=0.1, by_epoch=False)),
    )


def run_tool(*args):
    return subprocess.run(
        [sys.executable, TOOL, *map(str, args)], capture_output=True, text=True, cwd=REPO_ROOT
    )


def test_epoch_based_series(tool, runs):
    work_dir, log, (top1, bbox_map) = runs['cls_a']
    assert tool.find_json_log(str(work_dir)) == log
    lines = read_lines(log)
    train = [e for e in lines if 'iter' in e]
    (loss, lr, acc, mAP) = tool.load_series(
        [str(work_dir)], ['loss', 'lr', 'accuracy/top1', 'coco/bbox_mAP']
    )[0].values()
    assert loss.phase == 'train' and loss.x_label == 'iter'
    np.testing.assert_array_equal(loss.x, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(loss.y, [e['loss'] for e in train])
    np.testing.assert_allclose(lr.y, 0.1)
    # Validated after each of the 3 epochs; the values are what the metrics computed.
    for series, reported in ((acc, top1), (mAP, bbox_map)):
        assert series.phase == 'val' and series.x_label == 'epoch'
        np.testing.assert_array_equal(series.x, [1, 2, 3])
        np.testing.assert_allclose(series.y, reported, rtol=1e-6)
    assert len(set(top1)) == 3  # training changed the model between validations


def test_iteration_based_series(tool, runs):
    _, log, (miou,) = runs['seg']
    lines = read_lines(log)
    assert not any('epoch' in e for e in lines)
    series = tool.load_series([log], ['loss', 'mIoU'])[0]
    np.testing.assert_array_equal(series['loss'].x, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(series['loss'].y, [e['loss'] for e in lines if 'iter' in e])
    assert series['mIoU'].x_label == 'iter'
    np.testing.assert_array_equal(series['mIoU'].x, [2, 4, 6])
    np.testing.assert_allclose(series['mIoU'].y, miou, rtol=1e-6)


def test_plot_two_runs(runs, tmp_path):
    out = tmp_path / 'curves.png'
    result = run_tool(
        'plot-curve',
        runs['cls_a'][0],
        runs['cls_b'][1],
        '--keys',
        'loss',
        'accuracy/top1',
        'coco/bbox_mAP',
        '--legend',
        'lr 0.1',
        'lr 0.02',
        '--title',
        'toy',
        '--out',
        out,
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0
    image = imread(out)
    # Two columns of 6 inches and two rows of 3.8 inches at 100 dpi.
    assert image.shape[:2] == (760, 1200)
    assert image[..., :3].std() > 0.05  # something is drawn


def test_missing_key_lists_the_keys(tool, runs):
    logs = [runs['cls_a'][1], runs['seg'][1]]
    # A key of one run only: drawn for that run.
    assert tool.load_series(logs, ['mIoU'])[0]['mIoU'] is None
    with pytest.raises(ValueError, match=r"'coco/segm_mAP' is in none.*'accuracy/top1'.*'mIoU'"):
        tool.load_series(logs, ['coco/segm_mAP'])
    result = run_tool('plot-curve', *logs, '--keys', 'loss', 'coco/segm_mAP')
    assert result.returncode != 0
    assert "'coco/segm_mAP' is in none of the logs" in result.stderr
    assert "'loss'" in result.stderr.splitlines()[-1]


def test_cal_train_time(runs):
    work_dir, log, _ = runs['cls_a']
    result = run_tool('cal-train-time', work_dir)
    assert result.returncode == 0, result.stderr
    assert log in result.stdout
    avg = float(re.search(r'average iter time: ([0-9.e-]+) s/iter', result.stdout).group(1))
    times = [e['time'] for e in read_lines(log) if 'iter' in e]
    assert avg == pytest.approx(np.mean(times), rel=1e-3)
    assert 0 < avg < 10  # a linear layer on 4 samples
    assert 'slowest epoch' in result.stdout and '6 iterations' in result.stdout
