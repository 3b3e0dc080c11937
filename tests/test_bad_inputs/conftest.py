"""What the bad-input and unsafe-checkpoint tests share: tiny toy datasets, a checkpoint saved by a
real mmengine Runner for the toy classifier, randomly initialized toy Mask R-CNN and UperNet
checkpoints, the three inferencers, and a way to run a tool's ``main`` in-process."""

from __future__ import annotations

import os.path as osp
import sys
from functools import cached_property

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from dfvt_mm.engine.runner import build_runner, load_config
from dfvt_mm.toy import write_ade20k, write_classification, write_coco
from tests.conftest import REPO_ROOT, load_tool

CONFIGS = {
    task: osp.join(REPO_ROOT, 'configs', 'toy', name)
    for task, name in (
        ('cls', 'dfvt_t_toy_in1k.py'),
        ('det', 'mask_rcnn_dfvt_t_toy_coco.py'),
        ('seg', 'upernet_dfvt_t_toy_ade20k.py'),
    )
}
SCOPES = {'cls': 'mmpretrain', 'det': 'mmdet', 'seg': 'mmseg'}
# In-process loaders: worker processes would only add start-up time at this size.
LOADERS = {
    f'{split}_dataloader.{key}': value
    for split in ('train', 'val', 'test')
    for key, value in (('num_workers', 0), ('persistent_workers', False))
}


def data_options(task: str, root: str) -> dict:
    """--cfg-options that point a toy config at the dataset under ``root``."""
    options = {f'{split}_dataloader.dataset.data_root': root for split in ('train', 'val', 'test')}
    if task == 'det':
        ann = osp.join(root, 'annotations', 'instances_val2017.json')
        options.update({'val_evaluator.ann_file': ann, 'test_evaluator.ann_file': ann})
    return {**options, **LOADERS}


def as_args(options: dict) -> list[str]:
    return ['--cfg-options', *(f'{k}={v}' for k, v in options.items())]


def run_main(monkeypatch, tool: tuple[str, ...], args: list[str], scope: str | None = None) -> str:
    """Run a tool's ``main()`` in-process as ``tool ARGS``: ``'ok'`` if it returns, else the
    message it exits with (what the shell prints on stderr).

    ``scope``: the registry scope a fresh process would start the tool in (the inferencers build
    their pipelines in the current one, which earlier in-process runs leave behind).
    """
    module = load_tool(*tool)
    monkeypatch.setattr(sys, 'argv', [tool[-1], *map(str, args)])
    if scope:
        init_default_scope(scope)
    try:
        module.main()
    except SystemExit as e:
        return str(e.code)
    return 'ok'


class Toys:
    """Datasets, checkpoints and inferencers, each made on first use."""

    def __init__(self, root):
        self.root = root

    @cached_property
    def data(self) -> dict[str, str]:
        roots = {task: str(self.root / f'toy_{task}') for task in CONFIGS}
        write_classification(roots['cls'], train_per_class=2, val_per_class=1)
        write_coco(roots['det'], train=2, val=2)
        write_ade20k(roots['seg'], train=2, val=2)
        return roots

    @cached_property
    def cls_checkpoint(self) -> str:
        """Three epochs of 2 iterations with the toy config's own Runner and CheckpointHook."""
        work_dir = str(self.root / 'cls_run')
        options = {
            **data_options('cls', self.data['cls']),
            'train_cfg.max_epochs': 3,
            'train_cfg.val_interval': 3,
            'train_dataloader.batch_size': 5,
            'default_hooks.checkpoint.interval': 3,
        }
        cfg, _ = load_config(CONFIGS['cls'], cfg_options=options, work_dir=work_dir)
        build_runner(cfg).train()
        return osp.join(work_dir, 'epoch_3.pth')

    def _random_model_checkpoint(self, task: str) -> str:
        cfg = Config.fromfile(CONFIGS[task])
        cfg.model.backbone.init_cfg = None
        init_default_scope(SCOPES[task])
        from mmengine.registry import MODELS

        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        path = str(self.root / f'{task}_random.pth')
        meta = dict(dataset_meta=cfg.metainfo.to_dict())  # what the Runner saves: a plain dict
        torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
        return path

    @cached_property
    def det_checkpoint(self) -> str:
        return self._random_model_checkpoint('det')

    @cached_property
    def seg_checkpoint(self) -> str:
        return self._random_model_checkpoint('seg')

    def checkpoint(self, task: str) -> str:
        return getattr(self, f'{task}_checkpoint')

    @cached_property
    def cls_inferencer(self):
        from mmpretrain.apis import ImageClassificationInferencer

        return ImageClassificationInferencer(
            CONFIGS['cls'], pretrained=self.cls_checkpoint, device='cpu'
        )

    @cached_property
    def det_inferencer(self):
        from mmdet.apis import DetInferencer

        return DetInferencer(model=CONFIGS['det'], weights=self.det_checkpoint, device='cpu')

    @cached_property
    def seg_inferencer(self):
        from mmseg.apis import MMSegInferencer

        return MMSegInferencer(model=CONFIGS['seg'], weights=self.seg_checkpoint, device='cpu')


@pytest.fixture(scope='session')
def toys(tmp_path_factory) -> Toys:
    return Toys(tmp_path_factory.mktemp('toys'))
