"""Every config builds its model in its own task's registry, with the expected size."""

import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from dfvt_mm.models import convert_official_checkpoint
from dfvt_mm.utils.build import build_model, load_model_config
from tests.conftest import REPO_ROOT
from tests.helpers import fake_official

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
    """A config and its model, built in the registry of its default scope (the config's
    ``Pretrained`` initialisers kept: ``init_weights`` would load them)."""
    cfg = load_model_config(f'configs/{cfg_name}')
    return cfg, build_model(cfg, pretrained=True)


@pytest.mark.parametrize('cfg_name', sorted(PARAMS))
def test_config_builds_with_the_papers_size(cfg_name):
    cfg, model = build(cfg_name)
    assert cfg.custom_imports == dict(imports=['dfvt_mm'], allow_failed_imports=False)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[cfg_name]


def official_names(model, arch, task):
    """This model's parameter names -> the authors' names for the same tensors (through the
    converter, on a state dict with the authors' keys and shapes of ``arch`` and ``task``)."""
    fake = fake_official(arch, task)
    converted, _ = convert_official_checkpoint(fake)
    by_tensor = {id(v): k for k, v in fake.items()}
    names = {k: by_tensor[id(v)] for k, v in converted.items()}
    if task == 'detection':  # converted to `backbone.*` only; the heads keep their mmdet names
        names.update({k: k for k, _ in model.named_parameters() if not k.startswith('backbone.')})
    return names


def param_groups(cfg, model):
    """(lr, weight decay) of every parameter as the config's optimizer builds them. AMP needs a
    GPU, and the parameter groups do not depend on it: built with the plain OptimWrapper."""
    from mmengine.optim import build_optim_wrapper

    optim_cfg = cfg.optim_wrapper.copy()
    optim_cfg.type = 'OptimWrapper'
    optimizer = build_optim_wrapper(model, optim_cfg).optimizer
    by_param = {
        id(p): (group['lr'], group['weight_decay'])
        for group in optimizer.param_groups
        for p in group['params']
    }
    return {name: by_param[id(p)] for name, p in model.named_parameters()}


# The authors' ImageNet optimizer (their optimizer.py, set_weight_decay): convlayers.* and
# multiresolution_conv.* at 2x the base lr; a parameter with 1 dimension or named *.bias without
# weight decay; everything else, relative position bias tables included, decays.
def authors_classification_group(name, ndim, base_lr, wd):
    lr = 2 * base_lr if name.startswith(('convlayers.', 'multiresolution_conv.')) else base_lr
    return lr, 0.0 if ndim == 1 or name.endswith('.bias') else wd


@pytest.mark.parametrize('cfg_name', CLASSIFIERS)
def test_classification_parameter_groups_are_the_authors(cfg_name):
    cfg, model = build(cfg_name)
    names = official_names(model, cfg.model.backbone.arch, 'classification')
    groups = param_groups(cfg, model)
    base_lr, wd = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    params = dict(model.named_parameters())
    assert set(groups) <= set(names)
    for name, got in groups.items():
        expected = authors_classification_group(names[name], params[name].ndim, base_lr, wd)
        assert got == pytest.approx(expected), (name, names[name])
    # Each of the four groups is populated.
    assert {(lr / base_lr, w > 0) for lr, w in groups.values()} == {
        (1.0, True),
        (1.0, False),
        (2.0, True),
        (2.0, False),
    }


def authors_lr(t, steps_per_epoch, lr, min_lr):
    """The learning rate of the authors' runs at iteration ``t`` (timm's CosineLRScheduler as
    their lr_scheduler.py builds it: warm-up from lr / 1000 over 20 epochs, cosine over 300)."""
    warmup, total = 20 * steps_per_epoch, 300 * steps_per_epoch
    if t < warmup:
        return lr / 1000 + t * (lr - lr / 1000) / warmup
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * t / total))


@pytest.mark.parametrize('cfg_name', CLASSIFIERS)
def test_classification_lr_follows_the_authors_curve(cfg_name):
    """mmengine's schedulers of the config, stepped per iteration, against the authors' curve."""
    from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', cfg_name))
    lr, steps = cfg.optim_wrapper.optimizer.lr, 10
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    schedulers = []
    for s in cfg.param_scheduler:
        cls = {'LinearLR': LinearLR, 'CosineAnnealingLR': CosineAnnealingLR}[s.type]
        args = {k: v for k, v in s.items() if k not in ('type', 'convert_to_iter_based')}
        schedulers.append(cls.build_iter_from_epoch(optimizer, epoch_length=steps, **args))
    worst = 0.0
    for t in range(300 * steps):
        expected = authors_lr(t, steps, lr, cfg.param_scheduler[1].eta_min)
        worst = max(worst, abs(optimizer.param_groups[0]['lr'] - expected) / expected)
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    assert worst < 0.01


def test_classification_recipe():
    """The values of the authors' ImageNet runs (logs/DFvT_{T,S,B}_log.txt print their configs)."""
    recipes = {
        s: Config.fromfile(osp.join(REPO_ROOT, 'configs', f'dfvt_{s}_in1k.py')) for s in 'tsb'
    }
    for cfg in recipes.values():
        opt = cfg.optim_wrapper
        assert opt.type == 'AmpOptimWrapper' and 'loss_scale' not in opt  # dynamic by default
        assert opt.clip_grad.max_norm == 5.0
        assert opt.optimizer.type == 'AdamW' and opt.optimizer.weight_decay == 0.05
        assert opt.optimizer.betas == (0.9, 0.999) and opt.optimizer.eps == 1e-8
        assert cfg.train_cfg.max_epochs == 300
        assert [a.type for a in cfg.model.train_cfg.augments] == ['Mixup', 'CutMix']
        assert cfg.model.head.loss.label_smooth_val == 0.1
        assert cfg.train_dataloader.dataset.data_root == 'data/imagenet'
    # (total batch over 4 GPUs, lr, min lr, drop path): BASE_LR / MIN_LR after their scaling.
    expected = {
        't': (1024, 1e-3, 1e-5, 0.0),
        's': (1024, 1e-3, 1e-5, 0.1),
        'b': (512, 5e-4, 5e-6, 0.2),
    }
    for size, (batch, lr, min_lr, drop) in expected.items():
        cfg = recipes[size]
        assert cfg.train_dataloader.batch_size * 4 == cfg.auto_scale_lr.base_batch_size == batch
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
        assert cfg.param_scheduler[1].eta_min == pytest.approx(min_lr)
        assert cfg.model.backbone.drop_path_rate == drop


@pytest.mark.parametrize('cfg_name', CLASSIFIERS)
def test_classifier_forward_at_224(cfg_name):
    _, model = build(cfg_name)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, 224, 224), mode='tensor').shape == (1, 1000)


DETECTORS = ['mask_rcnn_dfvt_t_coco.py', 'mask_rcnn_dfvt_s_coco.py', 'mask_rcnn_dfvt_b_coco.py']


@pytest.mark.parametrize('cfg_name', DETECTORS)
def test_detection_parameter_groups_are_the_authors(cfg_name, tmp_path, monkeypatch):
    """The authors' mmdet 2.x optimizer: AdamW 1e-4, decay 0.05 except on parameters whose (their)
    name contains `norm`, `relative_position_bias_table` or `absolute_pos_embed`; one lr."""
    monkeypatch.chdir(tmp_path)
    cfg, model = build(cfg_name)
    names = official_names(model, cfg.model.backbone.arch, 'detection')
    groups = param_groups(cfg, model)
    assert set(groups) <= set(names)
    for name, (lr, wd) in groups.items():
        official = names[name]
        no_decay = any(
            key in official
            for key in ('norm', 'relative_position_bias_table', 'absolute_pos_embed')
        )
        assert (lr, wd) == pytest.approx((1e-4, 0.0 if no_decay else 0.05)), (name, official)
    assert groups['backbone.patch_embed.0.bn.weight'][1] == 0.0  # the authors' patch_embed.norm1
    assert groups['backbone.stages.0.local_conv.0.bn.weight'][1] == 0.05  # convlayers.0.conv1x1_1.1
    assert (
        groups['backbone.stages.0.blocks.0.dane.spatial.0.weight'][1] == 0.05
    )  # select.fc_spatial.0


def test_detection_recipe():
    """The authors' configs/DFvT/maskrcnn_DFvT_{tiny,small,base}_1x_coco.py (mmdet 2.11)."""
    for cfg_name in DETECTORS:
        cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', cfg_name))
        backbone = cfg.model.backbone
        assert backbone.type == 'DFvT' and backbone.out_indices == (0, 1, 2, 3)
        assert backbone.drop_path_rate == 0.1
        assert backbone.pad_small_map and backbone.init_cfg.prefix == 'backbone.'
        assert backbone.init_cfg.checkpoint == cfg.pretrained
        assert cfg.pretrained == f'checkpoints/dfvt_{cfg_name[15]}_in1k.pth'
        opt = cfg.optim_wrapper
        assert opt.type == 'AmpOptimWrapper' and 'loss_scale' not in opt  # dynamic by default
        assert 'clip_grad' not in opt
        assert opt.optimizer.type == 'AdamW' and opt.optimizer.lr == 1e-4
        assert opt.optimizer.weight_decay == 0.05 and opt.optimizer.betas == (0.9, 0.999)
        warmup, steps = cfg.param_scheduler
        assert warmup.type == 'LinearLR' and not warmup.by_epoch
        assert (warmup.start_factor, warmup.begin, warmup.end) == (0.001, 0, 500)
        assert cfg.train_cfg.max_epochs == 12 and steps.milestones == [8, 11]
        assert cfg.train_dataloader.batch_size * 4 == cfg.auto_scale_lr.base_batch_size == 16
        assert cfg.model.data_preprocessor.pad_size_divisor == 32
        assert any(t.type == 'RandomChoice' for t in cfg.train_pipeline)  # DETR-style crops
        rpn, rcnn = cfg.model.test_cfg.rpn, cfg.model.test_cfg.rcnn
        nms = 'soft_nms' if cfg_name.startswith('mask_rcnn_dfvt_b') else 'nms'
        assert (rpn.nms_pre, rpn.max_per_img, rpn.min_bbox_size) == (1000, 1000, 0)
        assert rpn.nms == dict(type=nms, iou_threshold=0.7)
        assert (rcnn.score_thr, rcnn.max_per_img, rcnn.mask_thr_binary) == (0.05, 100, 0.5)
        assert rcnn.nms == dict(type=nms, iou_threshold=0.5)


def test_segmentation_recipe():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'upernet_dfvt_t_ade20k.py'))
    assert cfg.model.decode_head.type == 'UPerHead' and cfg.model.decode_head.channels == 512
    assert cfg.model.auxiliary_head.in_index == 2 and cfg.model.decode_head.num_classes == 150
    assert cfg.crop_size == (512, 512) and cfg.train_cfg.max_iters == 160000
    assert (
        cfg.optim_wrapper.optimizer.lr == 6e-5 and cfg.optim_wrapper.optimizer.weight_decay == 0.01
    )
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.norm.decay_mult == 0  # mmseg's Swin keys
    assert 'norm_decay_mult' not in cfg.optim_wrapper.paramwise_cfg
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
