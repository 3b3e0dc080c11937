"""Every config builds its model in its own task's registry, with the expected size."""

import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from tests.conftest import REPO_ROOT

# Parameters of the whole model: the authors' classifiers (paper: 4.0 / 11.2 / 37.3 M).
PARAMS = {
    'dfvt_t_in1k.py': 3_967_627,
    'dfvt_s_in1k.py': 11_225_485,
    'dfvt_b_in1k.py': 37_331_136,
}


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


@pytest.mark.parametrize('cfg_name', sorted(PARAMS))
def test_classifier_forward_at_224(cfg_name):
    _, model = build(cfg_name)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, 224, 224), mode='tensor').shape == (1, 1000)
