"""``tools/dist_train.sh`` across two "nodes": ``NNODES=2``, ``NODE_RANK`` 0 and 1, one CPU process
each over gloo, both on this machine (``MASTER_ADDR=127.0.0.1``), started as two machines start it.
And the Slurm scripts' command lines (no Slurm here: a stand-in ``srun`` records them)."""

import os
import socket
import subprocess
import sys

import torch

from dfvt_mm.toy import write_classification

from .conftest import REPO_ROOT, config, last_metric, run_tool, tool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_nodes_train_in_step_and_the_checkpoint_evaluates(tmp_path):
    data = tmp_path / 'data'
    write_classification(str(data), train_per_class=8, val_per_class=4)
    cfg = tmp_path / 'two_nodes.py'
    cfg.write_text(
        f'_base_ = [{config("toy", "dfvt_t_toy_in1k.py")!r}]\n'
        "custom_imports = dict(imports=['dfvt_mm', 'tests.rank_state_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='RankParamsHook')]\n"
        'train_cfg = dict(max_epochs=3, val_interval=3)\n'
        'default_hooks = dict(checkpoint=dict(interval=3))\n'
        f'train_dataloader = dict(batch_size=4, dataset=dict(data_root={str(data)!r}))\n'
        f'val_dataloader = dict(batch_size=4, dataset=dict(data_root={str(data)!r}))\n'
        'test_dataloader = val_dataloader\n'
    )
    work_dir = tmp_path / 'work'
    env = {
        **os.environ,
        'NNODES': '2',
        'MASTER_ADDR': '127.0.0.1',
        'PORT': str(free_port()),
        'PYTHONUNBUFFERED': '1',
    }
    cmd = ['bash', tool('dist_train.sh'), str(cfg), '1', '--work-dir', str(work_dir)]
    nodes = [
        subprocess.Popen(
            cmd,
            cwd=tmp_path,
            env={**env, 'NODE_RANK': str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    logs = [node.communicate(timeout=900)[0] for node in nodes]
    for node, log in zip(nodes, logs):
        assert node.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in logs[0]
    assert 'GPU number: 2' in logs[0]  # mmengine's name for the world size
    # 40 images, 4 per batch, split over the two nodes: 5 iterations per epoch on each.
    assert 'Epoch(train) [3][5/5]' in logs[0]
    # DDP averages the gradients: both nodes end with the same weights.
    rank0, rank1 = (torch.load(work_dir / f'rank{r}_params.pth', weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys() and len(rank0) > 100
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    start = torch.load(work_dir / 'epoch_3.pth', weights_only=False)['state_dict']
    assert all(torch.equal(start[k], v) for k, v in rank0.items())  # rank 0's checkpoint
    log = run_tool(
        [tool('test.py'), str(cfg), str(work_dir / 'epoch_3.pth'), '--work-dir', 'eval'],
        cwd=tmp_path,
        env={'PYTHONPATH': REPO_ROOT},  # the config imports the test hook
    )
    assert 0.0 <= last_metric(log, 'accuracy/top1') <= 100.0


def test_slurm_scripts_start_one_task_per_gpu(tmp_path):
    """OpenMMLab's PARTITION JOB_NAME CONFIG WORK_DIR form, passed on to srun and train.py."""
    fake = tmp_path / 'srun'
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$SRUN_RECORD"\n')
    fake.chmod(0o755)
    env = {
        **os.environ,
        'PATH': f'{tmp_path}:{os.environ["PATH"]}',
        'SRUN_RECORD': str(tmp_path / 'args'),
        'GPUS': '16',
        'PYTHON': sys.executable,
    }
    cfg = config('mask_rcnn_dfvt_b_coco.py')
    subprocess.run(
        ['bash', tool('slurm_train.sh'), 'gpu', 'dfvt_b', cfg, 'work_dirs/b', '--amp'],
        env=env,
        check=True,
    )
    args = (tmp_path / 'args').read_text().splitlines()
    assert args[:2] == ['-p', 'gpu'] and '--job-name=dfvt_b' in args
    assert '--ntasks=16' in args and '--ntasks-per-node=8' in args and '--gres=gpu:8' in args
    assert args[-6:] == [
        '-u',
        os.path.join(REPO_ROOT, 'tools', 'train.py'),
        cfg,
        '--work-dir=work_dirs/b',
        '--launcher=slurm',
        '--amp',
    ]
    subprocess.run(
        ['bash', tool('slurm_test.sh'), 'gpu', 'eval', cfg, 'b.pth'],
        env={**env, 'GPUS': '4'},
        check=True,
    )
    args = (tmp_path / 'args').read_text().splitlines()
    assert '--ntasks=4' in args and '--ntasks-per-node=4' in args
    assert args[-4:] == [
        os.path.join(REPO_ROOT, 'tools', 'test.py'),
        cfg,
        'b.pth',
        '--launcher=slurm',
    ]
