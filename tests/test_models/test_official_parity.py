"""The authors' released computation, reproduced through the converter tool.

Every test runs on the mini fixtures in tests/data (a custom arch, so in every clone) and, where the
reference dir is there, on the full-size DFvT-T fixtures too.
"""

import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint

import dfvt_mm  # noqa: F401
from dfvt_mm.models import DFvT, convert_official_checkpoint
from dfvt_mm.utils.build import build_model
from tests.helpers import fake_official, load_reference

TOL = 1e-4


def classifier(arch='tiny', num_classes=1000):
    """The ImageNet classifier of this project's config for ``arch`` (a name, or a custom arch
    dict on DFvT-T's config), without weights."""
    name = arch[0] if isinstance(arch, str) else 't'
    options = {'model.head.num_classes': num_classes}
    if not isinstance(arch, str):
        # _delete_: the custom arch dict replaces the config's arch name instead of merging.
        options['model.backbone.arch'] = dict(arch, _delete_=True)
        options['model.head.in_channels'] = arch['embed_dims'] * 8
    return build_model(f'configs/dfvt_{name}_in1k.py', options)


def convert_with_tool(repo_root, src, dst):
    tool = osp.join(repo_root, 'tools', 'model_converters', 'dfvt_official_to_mm.py')
    result = subprocess.run(
        [sys.executable, tool, src, str(dst)], capture_output=True, text=True, cwd=repo_root
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# deploy: the same after DFvT.switch_to_deploy() (BatchNorm folded into the convs).
@pytest.mark.parametrize('deploy', [False, True], ids=['eager', 'deploy'])
def test_classification_parity(official, repo_root, tmp_path, deploy):
    _, src, _ = official
    dst = tmp_path / 'cls.pth'
    assert 'classification checkpoint' in convert_with_tool(repo_root, src, dst)
    ref, arch, num_classes = load_reference(src)
    model = classifier(arch, num_classes).eval()
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    if deploy:
        model.backbone.switch_to_deploy()
    with torch.no_grad():
        logits = model(ref['input'], mode='tensor')
        features = model.extract_feat(ref['input'])[0]
    assert features.shape == ref['expected']['features'].shape
    assert (features - ref['expected']['features']).abs().max() <= TOL
    assert (logits - ref['expected']['logits']).abs().max() <= TOL


@pytest.mark.parametrize('deploy', [False, True], ids=['eager', 'deploy'])
def test_detection_parity(official, repo_root, tmp_path, deploy):
    _, _, src = official
    dst = tmp_path / 'det.pth'
    assert 'detection checkpoint' in convert_with_tool(repo_root, src, dst)
    ref, arch, _ = load_reference(src)
    model = DFvT(
        arch,
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,
        init_cfg=dict(type='Pretrained', checkpoint=str(dst), prefix='backbone.'),
    )
    model.init_weights()
    model.eval()
    if deploy:
        model.switch_to_deploy()
    with torch.no_grad():
        outs = model(ref['input'])
    assert len(outs) == len(ref['expected']['outs']) == 4
    for out, expected in zip(outs, ref['expected']['outs']):
        assert out.shape == expected.shape
        assert (out - expected).abs().max() <= TOL


@pytest.mark.parametrize('prefix', [None, 'backbone.'])
def test_init_cfg_accepts_the_authors_layout(official, tmp_path, prefix):
    """An unconverted authors' file under `model` loads through mmengine's PretrainedInit too,
    with the prefix of a converted file or without one (the authors' keys have none)."""
    ref, arch, _ = load_reference(official[2])
    torch.save(dict(model=ref['state_dict']), tmp_path / 'raw.pth')
    init_cfg = dict(type='Pretrained', checkpoint=str(tmp_path / 'raw.pth'), prefix=prefix)
    model = DFvT(arch, out_indices=(0, 1, 2, 3), pad_small_map=True, init_cfg=init_cfg)
    model.init_weights()
    with torch.no_grad():
        outs = model.eval()(ref['input'])
    for out, expected in zip(outs, ref['expected']['outs']):
        assert (out - expected).abs().max() <= TOL


def test_the_authors_layout_loads_into_the_backbone(official, tmp_path):
    """load_state_dict and mmengine's load_checkpoint convert the authors' keys as they load."""
    ref, arch, _ = load_reference(official[2])
    torch.save(dict(model=ref['state_dict']), tmp_path / 'raw.pth')
    for load in (
        lambda m: m.load_state_dict(ref['state_dict'], strict=True),
        lambda m: load_checkpoint(m, str(tmp_path / 'raw.pth'), strict=True),
    ):
        model = DFvT(arch, out_indices=(0, 1, 2, 3), pad_small_map=True)
        load(model)
        with torch.no_grad():
            outs = model.eval()(ref['input'])
        for out, expected in zip(outs, ref['expected']['outs']):
            assert (out - expected).abs().max() <= TOL


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_parameter_counts_equal_the_authors(arch, layout):
    n_cls = sum(p.numel() for p in classifier(arch).parameters())
    n_det = sum(p.numel() for p in DFvT(arch, out_indices=(0, 1, 2, 3)).parameters())
    assert n_cls == layout[arch]['params_classification']
    assert n_det == layout[arch]['params_detection_backbone']


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
@pytest.mark.parametrize('task', ['classification', 'detection'])
def test_converter_covers_every_official_key(arch, task):
    converted, detected = convert_official_checkpoint(fake_official(arch, task))
    assert detected == task
    if task == 'classification':
        model = classifier(arch)
    else:
        model = DFvT(arch, out_indices=(0, 1, 2, 3))
        converted = {k[len('backbone.') :]: v for k, v in converted.items()}
    ours = model.state_dict()
    assert set(converted) == set(ours)
    assert all(converted[k].shape == ours[k].shape for k in ours)


def test_converter_errors_list_the_keys():
    sd = fake_official('tiny')
    with pytest.raises(KeyError, match='layers.0.blocks.0.extra_thing'):
        convert_official_checkpoint({**sd, 'layers.0.blocks.0.extra_thing': torch.zeros(1)})
    sd_missing = dict(sd)
    del sd_missing['layers.2.blocks.1.attn.proj.weight']
    with pytest.raises(KeyError, match=r'stages\.2\.blocks\.1\.attn\.proj\.weight'):
        convert_official_checkpoint(sd_missing)
    sd_bad = dict(sd)
    sd_bad['layers.1.blocks.0.mlp.fc2.bias'] = torch.zeros(5)
    with pytest.raises(ValueError, match='mlp|ffn'):
        convert_official_checkpoint(sd_bad)


def test_converter_tool_rejects_foreign_checkpoints(repo_root, tmp_path):
    torch.save({'model': {'conv.weight': torch.zeros(1)}}, tmp_path / 'foreign.pth')
    tool = osp.join(repo_root, 'tools', 'model_converters', 'dfvt_official_to_mm.py')
    result = subprocess.run(
        [sys.executable, tool, str(tmp_path / 'foreign.pth'), str(tmp_path / 'out.pth')],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert 'not DFvT keys' in result.stderr or 'patch_embed.proj2.weight' in result.stderr
    assert not (tmp_path / 'out.pth').exists()


def test_pretrained_errors_are_loud(tmp_path):
    with pytest.raises(FileNotFoundError, match='dfvt_official_to_mm.py'):
        DFvT(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'nope.pth'))).init_weights()
    torch.save({'state_dict': {'backbone.foo': torch.zeros(1)}}, tmp_path / 'other.pth')
    with pytest.raises(KeyError, match='lacks'):
        DFvT(
            init_cfg=dict(
                type='Pretrained', checkpoint=str(tmp_path / 'other.pth'), prefix='backbone.'
            )
        ).init_weights()
    with pytest.raises(KeyError, match="prefix 'neck.'"):
        DFvT(
            init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'other.pth'), prefix='neck.')
        ).init_weights()


def test_classification_checkpoint_initialises_a_detection_backbone(official, repo_root, tmp_path):
    """The ImageNet -> Mask R-CNN path: stem and stages load, only output layers start fresh."""
    dst = tmp_path / 'cls.pth'
    convert_with_tool(repo_root, official[1], dst)
    model = DFvT(
        load_reference(official[1])[1],
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,
        init_cfg=dict(type='Pretrained', checkpoint=str(dst), prefix='backbone.'),
    )
    model.init_weights()
    sd = torch.load(dst, weights_only=True)['state_dict']
    torch.testing.assert_close(
        model.stages[2].blocks[0].attn.qkv.weight, sd['backbone.stages.2.blocks.0.attn.qkv.weight']
    )
    torch.testing.assert_close(model.norm3.weight, sd['backbone.norm3.weight'])
