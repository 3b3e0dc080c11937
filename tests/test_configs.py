"""Every config builds its model in its own task's registry, with the expected size."""

import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from tests.conftest import REPO_ROOT

# Parameters of the whole model: the authors' classifiers (paper: 4.0 / 11.2 / 37.3 M), and their
# backbones with mmdet's Mask R-CNN FPN heads (paper: 25 / 32 / 58 M) and with mmseg's UperNet + FCN
# auxiliary head (paper: 34 / 44 / 72 M).
PARAMS = {
    'dfvt_t_in1k.py': 3_967_627,
    'dfvt_s_in1k.py': 11_225_485,
    'dfvt_b_in1k.py': 37_331_136,
    'mask_rcnn_dfvt_t_coco.py': 23_769_651,
    'mask_rcnn_dfvt_s_coco.py': 31_118_805,
    'mask_rcnn_dfvt_b_coco.py': 57_392_840,
    'upernet_dfvt_t_ade20k.py': 32_930_927,
    'upernet_dfvt_s_ade20k.py': 43_266_065,
    'upernet_dfvt_b_ade20k.py': 71_530_756,
}
CLASSIFIERS = sorted(k for k in PARAMS if k.startswith('dfvt_'))


def build(cfg_name):
    """Load a config and build its model in the registry of its default scope."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', cfg_name))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        init_default_scope(cfg.default_scope)
        from mmengine.registry import MODELS

        return cfg, MODELS.build(cfg.model)


@pytest.mark.parametrize('cfg_name', sorted(PARAMS))
def test_config_builds_with_the_papers_size(cfg_name):
    cfg, model = build(cfg_name)
    assert cfg.custom_imports == dict(imports=['dfvt_mm'], allow_failed_imports=False)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[cfg_name]


def test_classification_recipe():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'dfvt_t_in1k.py'))
    opt = cfg.optim_wrapper
    assert opt.optimizer.type == 'AdamW' and opt.optimizer.lr == 1e-3
    assert opt.optimizer.weight_decay == 0.05
    assert opt.paramwise_cfg.norm_decay_mult == 0 and opt.paramwise_cfg.bias_decay_mult == 0
    assert opt.paramwise_cfg.custom_keys['.relative_position_bias_table'].decay_mult == 0
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 20
    assert cosine.type == 'CosineAnnealingLR' and cfg.train_cfg.max_epochs == 300
    assert cfg.train_dataloader.batch_size * 4 == cfg.auto_scale_lr.base_batch_size == 1024
    assert [a.type for a in cfg.model.train_cfg.augments] == ['Mixup', 'CutMix']
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert cfg.train_dataloader.dataset.data_root == 'data/imagenet'
    base = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'dfvt_b_in1k.py'))
    assert base.train_dataloader.batch_size * 4 == base.auto_scale_lr.base_batch_size == 512
    assert base.optim_wrapper.optimizer.lr == 1e-3
    drop = [
        Config.fromfile(
            osp.join(REPO_ROOT, 'configs', f'dfvt_{s}_in1k.py')
        ).model.backbone.drop_path_rate
        for s in 'tsb'
    ]
    assert drop == [0.0, 0.1, 0.2]


@pytest.mark.parametrize('cfg_name', CLASSIFIERS)
def test_classifier_forward_at_224(cfg_name):
    _, model = build(cfg_name)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, 224, 224), mode='tensor').shape == (1, 1000)


def test_detection_recipe():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'mask_rcnn_dfvt_t_coco.py'))
    backbone = cfg.model.backbone
    assert backbone.type == 'DFvT' and backbone.out_indices == (0, 1, 2, 3)
    assert backbone.pad_small_map and backbone.init_cfg.prefix == 'backbone.'
    assert backbone.init_cfg.checkpoint == cfg.pretrained == 'checkpoints/dfvt_t_in1k.pth'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.relative_position_bias_table.decay_mult == 0
    assert cfg.train_cfg.max_epochs == 12 and cfg.param_scheduler[1].milestones == [8, 11]
    assert cfg.train_dataloader.batch_size * 4 == cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.model.data_preprocessor.pad_size_divisor == 32
    assert any(t.type == 'RandomChoice' for t in cfg.train_pipeline)  # DETR-style crops


def test_segmentation_recipe():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'upernet_dfvt_t_ade20k.py'))
    assert cfg.model.decode_head.type == 'UPerHead' and cfg.model.decode_head.channels == 512
    assert cfg.model.auxiliary_head.in_index == 2 and cfg.model.decode_head.num_classes == 150
    assert cfg.crop_size == (512, 512) and cfg.train_cfg.max_iters == 160000
    assert (
        cfg.optim_wrapper.optimizer.lr == 6e-5 and cfg.optim_wrapper.optimizer.weight_decay == 0.01
    )
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
    warmup, poly = cfg.param_scheduler
    assert warmup.end == 1500 and poly.type == 'PolyLR'
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.model.backbone.init_cfg.checkpoint == cfg.pretrained


@pytest.mark.parametrize('cfg_name', ['mask_rcnn_dfvt_t_coco.py', 'upernet_dfvt_t_ade20k.py'])
def test_missing_pretrained_checkpoint_is_a_clear_error(cfg_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the configs' relative checkpoints/ path does not exist here
    cfg, model = build(cfg_name)
    with pytest.raises(FileNotFoundError, match='dfvt_official_to_mm.py'):
        model.init_weights()


def test_get_flops_tool(repo_root):
    """Small inputs keep it quick; the sizes of the paper are in the README."""
    import json
    import subprocess
    import sys

    results = {}
    for cfg_name, shape in (
        ('dfvt_t_in1k.py', '224 224'),
        ('mask_rcnn_dfvt_t_coco.py', '256 320'),
        ('upernet_dfvt_t_ade20k.py', '128 256'),
    ):
        out = subprocess.run(
            [
                sys.executable,
                'tools/analysis/get_flops.py',
                f'configs/{cfg_name}',
                '--shape',
                *shape.split(),
                '--json',
            ],
            cwd=repo_root,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        results[cfg_name] = json.loads(out.stdout.strip().splitlines()[-1])
    assert results['dfvt_t_in1k.py']['params'] == PARAMS['dfvt_t_in1k.py']
    # mmengine's count of the classifier (attention included); the paper's 0.3 G omits the stem.
    assert abs(results['dfvt_t_in1k.py']['flops'] - 311_498_301) < 1e6
    for name in ('mask_rcnn_dfvt_t_coco.py', 'upernet_dfvt_t_ade20k.py'):
        assert results[name]['params'] == PARAMS[name] and results[name]['flops'] > 1e9
