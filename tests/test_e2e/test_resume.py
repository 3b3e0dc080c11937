"""A toy training run killed inside a checkpoint save resumes with ``tools/train.py --resume`` and
ends with the weights of an uninterrupted run, bit for bit.

The run keeps one checkpoint (``max_keep_ckpts=1``), as the toy configs do: mmengine's own
CheckpointHook removes it before writing the next one, so the kill would leave nothing to resume.
Data loading runs in the main process (``num_workers=0``), whose random streams the checkpoint
keeps: that is what makes the resumed run exact.
"""

import os
import signal
import subprocess
import sys
import time

import torch

from dfvt_mm.toy import write_classification
from tests.conftest import REPO_ROOT

from .conftest import config, run_tool, tool


def write_configs(tmp_path):
    data = tmp_path / 'data'
    write_classification(str(data), train_per_class=4, val_per_class=1)
    base = tmp_path / 'resume.py'
    base.write_text(
        f'_base_ = [{config("toy", "dfvt_t_toy_in1k.py")!r}]\n'
        'train_cfg = dict(max_epochs=4)\n'
        'default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))\n'
        'train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False, '
        f'dataset=dict(data_root={str(data)!r}))\n'
    )
    stall = tmp_path / 'stall.py'
    stall.write_text(
        f'_base_ = [{str(base)!r}]\n'
        "custom_imports = dict(imports=['dfvt_mm', 'tests.stall_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='StallInSaveHook', epoch=3, "
        f'marker={str(tmp_path / "in_save")!r})]\n'
    )
    return str(base), str(stall)


def train(cfg, work_dir, *args):
    return [tool('train.py'), cfg, '--work-dir', str(work_dir), '--no-validate', *args]


def test_killed_in_a_save_resumes_exactly(tmp_path):
    base, stall = write_configs(tmp_path)
    run_tool(train(base, tmp_path / 'whole'), cwd=tmp_path)

    cut = tmp_path / 'cut'
    proc = subprocess.Popen(
        [sys.executable, *train(stall, cut)],
        cwd=tmp_path,
        env={**os.environ, 'PYTHONPATH': REPO_ROOT},  # the config imports the test hook
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(3000):
            if (tmp_path / 'in_save').exists() or proc.poll() is not None:
                break
            time.sleep(0.2)
        assert (tmp_path / 'in_save').exists(), 'the run never reached the third save'
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    # Killed inside the third save: the second checkpoint and the pointer to it are whole.
    assert (cut / 'last_checkpoint').read_text() == str(cut / 'epoch_2.pth')
    assert not (cut / 'epoch_3.pth').exists()

    log = run_tool(train(base, cut, '--resume'), cwd=tmp_path)
    assert 'Auto resumed' in log or 'resumed' in log.lower()
    whole = torch.load(tmp_path / 'whole' / 'epoch_4.pth', weights_only=False)['state_dict']
    resumed = torch.load(cut / 'epoch_4.pth', weights_only=False)['state_dict']
    assert whole.keys() == resumed.keys()
    assert max((whole[k].float() - resumed[k].float()).abs().max().item() for k in whole) == 0
    assert not [f for f in os.listdir(cut) if f.endswith('.tmp')]  # the interrupted save's
