"""Mask R-CNN end to end on the built-in COCO-style dataset: train (single and distributed over
gloo), evaluate, `mim`, and the DetInferencer demo, through the commands a user types."""

import os.path as osp
import re

import cv2
import pytest

from .conftest import BARS, config, last_metric, run_tool, tool

TOY_CFG = config('toy', 'mask_rcnn_dfvt_t_toy_coco.py')
CLASSES = ('circle', 'square', 'triangle', 'star', 'cross')
BBOX_BAR = BARS['detection']['coco/bbox_mAP']
SEGM_BAR = BARS['detection']['coco/segm_mAP']


def test_training_reaches_map(det_run):
    _, log = det_run
    assert last_metric(log, 'coco/bbox_mAP') >= BBOX_BAR
    assert last_metric(log, 'coco/segm_mAP') >= SEGM_BAR


def test_dist_test_and_mim_test(workspace, det_run, mim):
    ckpt, _ = det_run
    log = run_tool(
        ['bash', tool('dist_test.sh'), TOY_CFG, ckpt, '2', '--work-dir', 'work_dirs/det_dist_eval'],
        cwd=workspace,
        env={'PORT': '29611'},
    )
    assert last_metric(log, 'coco/bbox_mAP') >= BBOX_BAR
    log = run_tool(
        [
            *mim,
            'test',
            'mmdet',
            TOY_CFG,
            '--checkpoint',
            ckpt,
            '--work-dir',
            'work_dirs/det_mim_eval',
        ],
        cwd=workspace,
    )
    assert last_metric(log, 'coco/segm_mAP') >= SEGM_BAR


def test_demo_draws_what_the_model_predicts(workspace, det_run, tmp_path):
    """The drawing path on the model's own output: at a score threshold of 0 (set by the test, not
    a bar the model must clear) every detection the model returns is listed and drawn, and an
    image is drawn over exactly when there is one. Both demos can share an --out-dir."""
    ckpt, _ = det_run
    img = str(workspace / 'data' / 'toy_coco' / 'val2017' / '000002.png')
    demo = [tool('demo', 'detect_image.py'), img, TOY_CFG, ckpt, '--out-dir', str(tmp_path)]
    out = run_tool([*demo, '--score-thr', '0'], cwd=workspace)
    count = int(re.search(r': (\d+) detections with score >= 0', out).group(1))
    listed = re.findall(r'^  (\w+) +([0-9.]+)  box \[', out, re.M)
    assert len(listed) == count and all(name in CLASSES for name, _ in listed)
    drawn = cv2.imread(str(tmp_path / '000002_detection.png'))
    original = cv2.imread(img)
    assert drawn is not None and drawn.shape == original.shape
    changed = (drawn != original).any(axis=2).mean()
    assert changed > 0.01 if count else changed == 0
    # Above the highest score nothing is left to draw: the picture is the image itself.
    top = max((float(score) for _, score in listed), default=0.0)
    out = run_tool([*demo, '--score-thr', str(top + 0.001)], cwd=workspace)
    assert ': 0 detections with score' in out
    assert (cv2.imread(str(tmp_path / '000002_detection.png')) == original).all()


@pytest.fixture(scope='module')
def small_coco(workspace):
    run_tool(
        [
            tool('data', 'make_toy_dataset.py'),
            'coco',
            'data/small_coco',
            '--train',
            '16',
            '--val',
            '4',
        ],
        cwd=workspace,
    )
    return [
        'train_dataloader.dataset.data_root=data/small_coco/',
        'val_dataloader.dataset.data_root=data/small_coco/',
        'test_dataloader.dataset.data_root=data/small_coco/',
        'val_evaluator.ann_file=data/small_coco/annotations/instances_val2017.json',
        'test_evaluator.ann_file=data/small_coco/annotations/instances_val2017.json',
        'model.backbone.init_cfg=None',
        'train_cfg.max_epochs=1',
    ]


def test_dist_train_two_cpu_processes(workspace, small_coco):
    """tools/dist_train.sh CONFIG 2 on a machine without GPUs: 2 processes over gloo."""
    log = run_tool(
        [
            'bash',
            tool('dist_train.sh'),
            TOY_CFG,
            '2',
            '--work-dir',
            'work_dirs/det_dist',
            '--cfg-options',
            *small_coco,
        ],
        cwd=workspace,
        env={'PORT': '29612'},
    )
    assert "dist_cfg: {'backend': 'gloo'}" in log
    assert 'Distributed training: True' in log
    # 16 images at 4 per batch: 4 iterations in one process, 2 per rank with two ranks; torchrun
    # exits 0 only when both ranks did.
    assert 'Epoch(train) [1][2/2]' in log
    assert osp.exists(workspace / 'work_dirs' / 'det_dist' / 'epoch_1.pth')


def test_mim_train(workspace, small_coco, mim):
    run_tool(
        [
            *mim,
            'train',
            'mmdet',
            TOY_CFG,
            '--work-dir',
            'work_dirs/det_mim',
            '--cfg-options',
            *small_coco,
        ],
        cwd=workspace,
    )
    assert osp.exists(workspace / 'work_dirs' / 'det_mim' / 'epoch_1.pth')
