"""Folding a trained model's BatchNorms into its convs, checkpoint to checkpoint."""

import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from torch.nn.modules.batchnorm import _BatchNorm

from dfvt_mm.models.reparameterize import build_model, reparameterize_checkpoint
from tests.conftest import load_tool
from tests.helpers import perturb_batchnorms

TOY_CLS = 'configs/toy/dfvt_t_toy_in1k.py'


@pytest.fixture(scope='module')
def trained(repo_root, tmp_path_factory):
    """A classifier checkpoint with BatchNorm statistics that folding must carry over."""
    cfg = Config.fromfile(osp.join(repo_root, TOY_CLS))
    torch.manual_seed(0)
    model = build_model(cfg)
    perturb_batchnorms(model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'trained.pth')
    meta = dict(dataset_meta=dict(classes=['a', 'b', 'c', 'd', 'e']))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return cfg, model, path


def test_folded_checkpoint_loads_into_the_deploy_config(trained, tmp_path):
    cfg, model, path = trained
    dst = str(tmp_path / 'deploy.pth')
    result = reparameterize_checkpoint(cfg, path, dst)
    assert result['max_diff'] <= 1e-4
    deploy_cfg = cfg.copy()
    deploy_cfg.merge_from_dict({'model.backbone.deploy': True})
    folded = build_model(deploy_cfg)
    assert not any(isinstance(m, _BatchNorm) for m in folded.backbone.modules())
    ckpt = load_checkpoint(folded, dst, map_location='cpu', strict=True)
    assert ckpt['meta']['dataset_meta']['classes'] == ['a', 'b', 'c', 'd', 'e']
    assert ckpt['meta']['deploy'] is True
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = model.eval()(x, mode='tensor')
        logits = folded(x, mode='tensor')
    assert (logits - expected).abs().max() <= 1e-4


def test_errors_name_the_fix(trained, tmp_path):
    cfg, _, path = trained
    deploy_cfg = cfg.copy()
    deploy_cfg.merge_from_dict({'model.backbone.deploy': True})
    with pytest.raises(ValueError, match='config the checkpoint was trained with'):
        reparameterize_checkpoint(deploy_cfg, path, str(tmp_path / 'x.pth'))


def test_cli(trained, repo_root, tmp_path, monkeypatch, capsys):
    _, _, path = trained
    tool = load_tool('model_converters', 'reparameterize_model.py')
    dst = tmp_path / 'out' / 'deploy.pth'
    argv = ['reparameterize_model.py', osp.join(repo_root, TOY_CLS), path, str(dst)]
    monkeypatch.setattr(sys, 'argv', argv)
    tool.main()
    assert dst.is_file()
    assert 'model.backbone.deploy=True' in capsys.readouterr().out
    monkeypatch.setattr(sys, 'argv', argv[:-1] + [str(tmp_path / 'deploy.pt')])
    with pytest.raises(SystemExit, match='must be a .pth file'):
        tool.main()
    # A checkpoint folded already does not fit the config it came from: one line says so.
    monkeypatch.setattr(sys, 'argv', argv[:2] + [str(dst), str(tmp_path / 'twice.pth')])
    with pytest.raises(SystemExit, match=r'^error: .*not one folded already$') as e:
        tool.main()
    assert '\n' not in str(e.value.code)
