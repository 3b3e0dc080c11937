"""dfvt_mm.utils.build: a config's model without weights, a batch for it, checkpoint weights."""

import pytest
import torch
from mmengine.config import Config

import dfvt_mm  # noqa: F401
from dfvt_mm.utils import unwrap_state_dict
from dfvt_mm.utils.build import build_model, dummy_batch, load_model_config, strip_pretrained
from dfvt_mm.utils.paths import resolve


def test_strip_pretrained():
    cfg = dict(
        pretrained='open-mmlab://resnet50_v1c',
        backbone=dict(
            init_cfg=dict(type='Pretrained', checkpoint='x.pth'),
            layers=[dict(init_cfg=[dict(type='Pretrained'), dict(type='Kaiming')])],
        ),
        head=dict(init_cfg=dict(type='Normal', std=0.01)),
    )
    assert strip_pretrained(cfg) == dict(
        pretrained=None,
        backbone=dict(init_cfg=None, layers=[dict(init_cfg=[dict(type='Kaiming')])]),
        head=dict(init_cfg=dict(type='Normal', std=0.01)),
    )


def test_upstream_model_without_weights_or_syncbn():
    """mmseg's UperNet R50: SyncBN and an `open-mmlab://` pretrained backbone in its config."""
    cfg = load_model_config('mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py')
    assert cfg.model.pretrained.startswith('open-mmlab://')
    model = build_model(cfg)
    assert not model.training
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
    model.init_weights()  # nothing to download: the pretrained entry is gone
    inputs, samples = dummy_batch(model, 'seg', 2, (64, 96))
    assert inputs.shape == (2, 3, 64, 96) and len(samples) == 2
    assert samples[0].metainfo['img_shape'] == (64, 96)
    # Normalised by the data preprocessor: uint8 pixels no more.
    assert inputs.abs().max() < 3 and inputs.dtype == torch.float32


def test_keep_pretrained_and_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config's relative checkpoints/ path does not exist here
    model = build_model('configs/mask_rcnn_dfvt_t_coco.py', pretrained=True)
    with pytest.raises(FileNotFoundError, match='dfvt_official_to_mm.py'):
        model.init_weights()
    model = build_model('configs/dfvt_s_in1k.py', {'model.head.num_classes': 7})
    assert model.head.fc.out_features == 7 and model.backbone.embed_dims == 96
    x, samples = dummy_batch(model, 'cls', 3, (32, 32))
    assert samples is None and model(x, mode='tensor').shape == (3, 7)


def test_config_errors():
    with pytest.raises(FileNotFoundError, match=r'^configs/nope.py not found \(looked at'):
        resolve('configs/nope.py')
    with pytest.raises(FileNotFoundError, match="unknown package scope 'mmfoo'; use one of"):
        resolve('mmfoo::x.py')
    with pytest.raises(ValueError, match=r'default_scope is None; the models here are built in'):
        load_model_config(Config(dict(model=dict(type='x'))))


def test_unwrap_state_dict():
    weights = {'a': torch.zeros(1)}
    assert unwrap_state_dict({'state_dict': weights, 'meta': {}}) is weights  # mmengine's
    assert unwrap_state_dict({'model': weights}) is weights  # the authors'
    assert unwrap_state_dict(weights) is weights  # a bare state dict
