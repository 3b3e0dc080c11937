"""Crash-safe checkpoints and resuming past a bad one, on mmengine's real Runner (seconds).

Each crash is made at a chosen moment of a save (an exception raised there, or a process killed
there), then the work dir is checked as a resuming run would find it. The same run with
mmengine's own CheckpointHook loses the previous checkpoint (``max_keep_ckpts=1``) or leaves
``last_checkpoint`` empty: see ``test_mmengine_hook_loses_the_previous_checkpoint``.
"""

import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader

import dfvt_mm  # noqa: F401  (registers the hooks)
from dfvt_mm.engine import (
    CrashSafeCheckpointHook,
    add_safety_hooks,
    atomic_write,
    crash_safe,
    find_resumable_checkpoint,
    load_config,
)
from dfvt_mm.engine.crash_safe import checkpoint_problem
from dfvt_mm.utils import CorruptCheckpointError, load_from_local
from tests.conftest import REPO_ROOT
from tests.toy_runner import ToyData, ToyModel


class NoisyToyModel(ToyModel):
    """The toy model with dropout and data noise: its training draws from torch's and numpy's
    random streams, so a resumed run matches an uninterrupted one only if both are restored."""

    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        noise = torch.from_numpy(np.random.normal(size=inputs.shape).astype('float32'))
        return super().forward(self.drop(inputs + 0.1 * noise), data_samples, mode)


def make_runner(work_dir, max_epochs, hook='CrashSafeCheckpointHook', resume=False, **ckpt):
    torch.manual_seed(0)
    return Runner(
        model=NoisyToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'crash_{osp.basename(work_dir)}_{max_epochs}_{resume}_{time.time_ns()}',
        train_dataloader=DataLoader(ToyData(), batch_size=4, shuffle=True),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type=hook, interval=1, **ckpt)),
        randomness=dict(seed=0),
        resume=resume,
        default_scope='mmengine',
    )


def pointer(work_dir) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read()


def weights(path):
    return torch.load(path, weights_only=False)['state_dict']


def test_a_run_keeps_max_keep_ckpts_and_names_the_last(tmp_path):
    make_runner(tmp_path, 3, max_keep_ckpts=2).train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == [
        'epoch_2.pth',
        'epoch_3.pth',
    ]
    assert pointer(tmp_path) == str(tmp_path / 'epoch_3.pth')
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    assert checkpoint_problem(str(tmp_path / 'epoch_3.pth')) is None


class CrashError(Exception):
    pass


def crash_in_third_save(monkeypatch, target, name):
    """Make ``target.name`` raise Crash on its third call (the third epoch's save)."""
    original = getattr(target, name)
    calls = []

    def crashing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise CrashError(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, crashing)


@pytest.mark.parametrize(
    'moment', ['writing the checkpoint', 'replacing last_checkpoint'], ids=['ckpt', 'pointer']
)
def test_a_crash_during_a_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch, moment):
    if moment == 'writing the checkpoint':
        crash_in_third_save(monkeypatch, torch, 'save')  # mmengine's save_checkpoint calls it
    else:
        crash_in_third_save(monkeypatch, crash_safe, 'atomic_write')
    with pytest.raises(CrashError):
        make_runner(tmp_path, 4, max_keep_ckpts=1).train()
    monkeypatch.undo()
    # What a resuming run finds: epoch 2, named by last_checkpoint, whole; no partial file.
    assert pointer(tmp_path) == str(tmp_path / 'epoch_2.pth')
    assert checkpoint_problem(str(tmp_path / 'epoch_2.pth')) is None
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]


def test_mmengine_hook_loses_the_previous_checkpoint(tmp_path, monkeypatch):
    """Why the hook exists: mmengine's removes epoch 2 before it writes epoch 3."""
    crash_in_third_save(monkeypatch, torch, 'save')
    with pytest.raises(CrashError):
        make_runner(tmp_path, 4, hook='CheckpointHook', max_keep_ckpts=1).train()
    assert not osp.exists(tmp_path / 'epoch_2.pth')


KILLED_SAVE = textwrap.dedent(
    """
    import sys, time
    from dfvt_mm.engine import atomic_write

    def write(f):
        f.write(b'new' * 1000)
        f.flush()
        open(sys.argv[2], 'w').close()  # tell the test we are inside the write
        time.sleep(120)

    atomic_write(sys.argv[1], write)
    """
)


def test_a_kill_inside_atomic_write_leaves_the_old_file(tmp_path):
    target, marker = tmp_path / 'epoch_1.pth', tmp_path / 'inside'
    target.write_bytes(b'old')
    proc = subprocess.Popen(
        [sys.executable, '-c', KILLED_SAVE, str(target), str(marker)], cwd=REPO_ROOT
    )
    try:
        for _ in range(1200):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), 'the writer never got inside the write'
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert target.read_bytes() == b'old'
    (leftover,) = [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    assert leftover.startswith('epoch_1.pth.')  # never matches *.pth: nothing resumes from it


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / 'f'
    target.write_bytes(b'old')

    def write(f):
        f.write(b'partial')
        raise CrashError

    with pytest.raises(CrashError):
        atomic_write(str(target), write)
    assert target.read_bytes() == b'old' and os.listdir(tmp_path) == ['f']


def test_resume_is_exact(tmp_path):
    """Killed after epoch 2 (its checkpoint is all that is left), resumed to epoch 4: the weights
    are those of an uninterrupted run, to the bit (dropout and numpy noise draw the same)."""
    make_runner(tmp_path / 'whole', 4).train()
    make_runner(tmp_path / 'cut', 2).train()
    make_runner(tmp_path / 'cut', 4, resume=True).train()
    whole, resumed = weights(tmp_path / 'whole/epoch_4.pth'), weights(tmp_path / 'cut/epoch_4.pth')
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    # without the random streams restored the runs differ (the test can fail)
    make_runner(tmp_path / 'plain', 2, hook='CheckpointHook').train()
    make_runner(tmp_path / 'plain', 4, hook='CheckpointHook', resume=True).train()
    plain = weights(tmp_path / 'plain/epoch_4.pth')
    assert not all(torch.equal(whole[k], plain[k]) for k in whole)


@pytest.fixture
def three_epochs(tmp_path):
    make_runner(tmp_path, 3).train()
    return tmp_path


def truncate(path):
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)


def test_resume_skips_a_truncated_newest_checkpoint(three_epochs, monkeypatch):
    logged = []
    monkeypatch.setattr(crash_safe, 'print_log', lambda msg, **kwargs: logged.append(msg))
    truncate(three_epochs / 'epoch_3.pth')
    assert find_resumable_checkpoint(str(three_epochs)) == str(three_epochs / 'epoch_2.pth')
    warnings = [line for line in logged if 'skipping' in line]
    assert len(warnings) == 1 and '\n' not in warnings[0]
    assert 'epoch_3.pth: truncated or corrupt' in warnings[0]


def test_resume_skips_a_corrupt_newest_checkpoint(three_epochs):
    path = three_epochs / 'epoch_3.pth'
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights: a CRC mismatch
    path.write_bytes(bytes(data))
    assert checkpoint_problem(str(path)).startswith('corrupt')
    assert find_resumable_checkpoint(str(three_epochs)) == str(three_epochs / 'epoch_2.pth')


def test_resume_past_an_empty_last_checkpoint(three_epochs):
    (three_epochs / 'last_checkpoint').write_text('')
    assert find_resumable_checkpoint(str(three_epochs)) == str(three_epochs / 'epoch_3.pth')


def test_resume_with_no_intact_checkpoint_is_one_line(three_epochs):
    for i in (1, 2, 3):
        truncate(three_epochs / f'epoch_{i}.pth')
    with pytest.raises(CorruptCheckpointError) as e:
        find_resumable_checkpoint(str(three_epochs))
    message = str(e.value)
    assert '\n' not in message and 'no intact checkpoint' in message and '--resume' in message
    assert 'epoch_1.pth' in message and 'epoch_3.pth' in message


def test_resume_with_no_checkpoint_starts_over(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None


def test_the_next_run_removes_temporary_files(three_epochs):
    leftover = three_epochs / 'epoch_4.pth.abc123.tmp'
    leftover.write_bytes(b'partial')
    make_runner(three_epochs, 4, resume=True).train()
    assert not leftover.exists() and pointer(three_epochs).endswith('epoch_4.pth')


def test_the_configs_and_tools_use_the_hooks():
    for name in ('dfvt_t_in1k.py', 'mask_rcnn_dfvt_t_coco.py', 'upernet_dfvt_t_ade20k.py'):
        cfg, _ = load_config(osp.join(REPO_ROOT, 'configs', name))
        assert cfg.default_hooks.checkpoint.type == 'CrashSafeCheckpointHook'
        assert [h.type for h in cfg.custom_hooks].count('BadSampleHook') == 1
    # a config of another project, run through tools/train.py
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=5))))
    add_safety_hooks(cfg, skip_bad_samples=True)
    assert cfg.default_hooks.checkpoint == dict(type='CrashSafeCheckpointHook', interval=5)
    assert cfg.custom_hooks == [dict(type='BadSampleHook', skip=True)]
    assert issubclass(CrashSafeCheckpointHook, CheckpointHook)


def test_the_safe_loader_calls_a_truncated_checkpoint_corrupt(three_epochs):
    """torch's zip reader raises OSError for some cut points; the loader's one line says what."""
    truncate(three_epochs / 'epoch_3.pth')
    with pytest.raises(CorruptCheckpointError, match='is truncated or corrupt'):
        load_from_local(str(three_epochs / 'epoch_3.pth'))
