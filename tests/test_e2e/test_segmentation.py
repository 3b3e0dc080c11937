"""UperNet end to end on the built-in ADE20K-style dataset: train, evaluate (whole image and
sliding window, tools and `mim`), and the MMSegInferencer demo."""

import os.path as osp

import cv2
import pytest
import torch

from .conftest import BARS, SLIDE_MIOU_BAR, config, last_metric, only, run_tool, tool

TOY_CFG = config('toy', 'upernet_dfvt_t_toy_ade20k.py')
MIOU_BAR = BARS['segmentation']['mIoU']


def test_training_reaches_miou(seg_run):
    _, log = seg_run
    assert last_metric(log, 'mIoU') >= MIOU_BAR


def test_whole_and_sliding_window_inference(workspace, seg_run, mim):
    ckpt, _ = seg_run
    whole = run_tool(
        [tool('test.py'), TOY_CFG, ckpt, '--work-dir', 'work_dirs/seg_whole'], cwd=workspace
    )
    slide = run_tool(
        [
            *mim,
            'test',
            'mmseg',
            TOY_CFG,
            '--checkpoint',
            ckpt,
            '--work-dir',
            'work_dirs/seg_slide',
            '--cfg-options',
            'model.test_cfg.mode=slide',
            'model.test_cfg.crop_size=(64,64)',
            'model.test_cfg.stride=(42,42)',
        ],
        cwd=workspace,
    )
    assert 'slide' in slide
    assert last_metric(whole, 'mIoU') >= MIOU_BAR
    assert last_metric(slide, 'mIoU') >= SLIDE_MIOU_BAR


def test_demo_draws_the_mask(workspace, seg_run, tmp_path):
    ckpt, _ = seg_run
    img = only(str(workspace / 'data' / 'toy_ade20k' / 'images' / 'validation' / '*00003.jpg'))
    out = run_tool(
        [tool('demo', 'segment_image.py'), img, TOY_CFG, ckpt, '--out-dir', str(tmp_path)],
        cwd=workspace,
    )
    assert 'predicted classes' in out and 'background' in out
    drawn = cv2.imread(str(tmp_path / 'toy_validation_00003_segmentation.png'))
    original = cv2.imread(img)
    assert drawn is not None and drawn.shape == original.shape
    assert (cv2.absdiff(drawn, original).max(axis=2) > 10).mean() > 0.2  # the mask is drawn over


@pytest.fixture(scope='module')
def small_ade(workspace):
    run_tool(
        [
            tool('data', 'make_toy_dataset.py'),
            'ade20k',
            'data/small_ade',
            '--train',
            '16',
            '--val',
            '4',
        ],
        cwd=workspace,
    )
    return [
        'train_dataloader.dataset.data_root=data/small_ade',
        'val_dataloader.dataset.data_root=data/small_ade',
        'test_dataloader.dataset.data_root=data/small_ade',
        'model.backbone.init_cfg=None',
        'train_cfg.max_iters=4',
        'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=4',
    ]


def test_mim_train(workspace, small_ade, mim):
    run_tool(
        [
            *mim,
            'train',
            'mmseg',
            TOY_CFG,
            '--work-dir',
            'work_dirs/seg_mim',
            '--cfg-options',
            *small_ade,
        ],
        cwd=workspace,
    )
    assert osp.exists(workspace / 'work_dirs' / 'seg_mim' / 'iter_4.pth')


def test_dist_train_and_dist_test_two_cpu_processes(workspace, small_ade):
    log = run_tool(
        [
            'bash',
            tool('dist_train.sh'),
            TOY_CFG,
            '2',
            '--work-dir',
            'work_dirs/seg_dist',
            '--cfg-options',
            *small_ade,
        ],
        cwd=workspace,
        env={'PORT': '29621'},
    )
    assert 'Distributed training: True' in log
    ckpt = workspace / 'work_dirs' / 'seg_dist' / 'iter_4.pth'
    assert torch.load(ckpt, weights_only=False)['meta']['iter'] == 4
    log = run_tool(
        [
            'bash',
            tool('dist_test.sh'),
            TOY_CFG,
            str(ckpt),
            '2',
            '--work-dir',
            'work_dirs/seg_dist_eval',
            '--cfg-options',
            *small_ade[:3],
        ],
        cwd=workspace,
        env={'PORT': '29622'},
    )
    assert 0 <= last_metric(log, 'mIoU') <= 100
