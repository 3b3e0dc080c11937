"""mmengine checkpoints on torch >= 2.6 (weights_only=True by default)."""

import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.runner import Runner
from mmengine.runner import checkpoint as mm_checkpoint
from torch.utils.data import DataLoader

import dfvt_mm  # noqa: F401  (applies the fix)
from dfvt_mm.utils import load_from_local
from tests.toy_runner import ToyData, ToyModel


def make_runner(work_dir, max_epochs, resume=False, load_from=None):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'toy_{max_epochs}_{resume}',
        train_dataloader=DataLoader(ToyData(), batch_size=4),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume,
        load_from=load_from,
        default_scope='mmengine',
    )


def test_runner_resumes_from_its_own_checkpoint(tmp_path):
    make_runner(tmp_path, max_epochs=2).train()
    ckpt = tmp_path / 'epoch_2.pth'
    assert ckpt.exists()
    saved = torch.load(ckpt, weights_only=False)
    runner = make_runner(tmp_path, max_epochs=3, resume=True, load_from=str(ckpt))
    runner.train()
    assert runner.epoch == 3 and runner.iter == 6
    assert (tmp_path / 'epoch_3.pth').exists()
    # Resuming restored the optimizer state (momentum buffers) before the third epoch.
    assert saved['optimizer']['state']


def test_unpatched_mmengine_fails_on_its_own_checkpoint(tmp_path):
    """Why the fix exists: mmengine's stock loader cannot read its checkpoints on torch 2.13."""
    make_runner(tmp_path, max_epochs=1).train()
    stock = mm_checkpoint.load_from_local
    assert mm_checkpoint.CheckpointLoader._schemes[''] is load_from_local
    mm_checkpoint.CheckpointLoader.register_scheme('', loader=stock, force=True)
    try:
        with pytest.raises(Exception, match='weights_only|Unsupported global'):
            mm_checkpoint._load_checkpoint(str(tmp_path / 'epoch_1.pth'))
    finally:
        mm_checkpoint.CheckpointLoader.register_scheme('', loader=load_from_local, force=True)


def test_config_custom_imports_apply_the_fix(tmp_path):
    """How tools/train.py, tools/test.py and `mim` load a config: custom_imports imports dfvt_mm."""
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['dfvt_mm'], allow_failed_imports=False)\n")
    code = textwrap.dedent(f"""
        from mmengine.config import Config
        from mmengine.runner.checkpoint import CheckpointLoader
        Config.fromfile({str(cfg)!r})
        print(CheckpointLoader._schemes[''].__module__)
    """)
    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, cwd=osp.dirname(str(cfg))
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'dfvt_mm.utils.checkpoint'
