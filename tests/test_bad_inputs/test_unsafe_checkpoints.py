"""The command-line paths keep ``weights_only=True``: tools/test.py, ``mim test`` and the three
demo tools (mmpretrain's, mmdet's and mmseg's inferencers) refuse a checkpoint that runs code when
unpickled, in one line, before its code runs; and they still load the checkpoints they load today
(the classifier's was saved by mmengine's Runner, with its message hub)."""

import json
import os
import os.path as osp
import subprocess
import sys
from glob import glob

import pytest
import torch

from tests.test_bad_inputs.conftest import CONFIGS, SCOPES, as_args, data_options, run_main
from tests.unsafe_checkpoint import save_with_payload

DEMOS = [('cls', 'classify_image.py'), ('det', 'detect_image.py'), ('seg', 'segment_image.py')]


@pytest.fixture
def evil(toys, tmp_path):
    """``evil(task)``: the task's good checkpoint with a payload that writes a marker file."""

    def make(task):
        path, marker = tmp_path / f'evil_{task}.pth', tmp_path / 'pwned'
        save_with_payload(torch.load(toys.checkpoint(task), weights_only=False), path, marker)
        return str(path), marker

    return make


def refusal(path):
    return f'error: {path}: refused to load it (it calls exec): '


def image_of(toys, task):
    return {
        'cls': osp.join(toys.data['cls'], 'val', 'star', 'star_00000.png'),
        'det': osp.join(toys.data['det'], 'val2017', '000001.png'),
        'seg': osp.join(toys.data['seg'], 'images', 'validation', 'toy_validation_00000.jpg'),
    }[task]


def test_tools_test_evaluates_the_runners_checkpoint(toys, monkeypatch, tmp_path):
    args = [CONFIGS['cls'], toys.cls_checkpoint, '--work-dir', tmp_path]
    assert (
        run_main(monkeypatch, ('test.py',), args + as_args(data_options('cls', toys.data['cls'])))
        == 'ok'
    )
    # mmengine writes the test metrics to <work_dir>/<timestamp>/<timestamp>.json: 5 images.
    (log,) = glob(str(tmp_path / '*' / '*.json'))
    with open(log) as f:
        top1 = json.loads(f.readlines()[-1])['accuracy/top1']
    assert top1 in (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)


def test_tools_test_refuses_a_malicious_checkpoint(toys, evil, monkeypatch, tmp_path):
    path, marker = evil('cls')
    args = [CONFIGS['cls'], path, '--work-dir', tmp_path]
    out = run_main(monkeypatch, ('test.py',), args + as_args(data_options('cls', toys.data['cls'])))
    assert out.startswith(refusal(path)) and '\n' not in out
    assert not marker.exists()


def test_mim_test_refuses_a_malicious_checkpoint(toys, evil, tmp_path):
    """mmpretrain's own test script: the config's custom_imports bring in the loader."""
    path, marker = evil('cls')
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    cmd = [mim, 'test', 'mmpretrain', CONFIGS['cls'], '--checkpoint', path]
    cmd += ['--work-dir', str(tmp_path)] + as_args(data_options('cls', toys.data['cls']))
    env = {**os.environ, 'PATH': osp.dirname(sys.executable) + os.pathsep + os.environ['PATH']}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert f'UnsafeCheckpointError: {refusal(path)[len("error: ") :]}' in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize('task, tool', DEMOS)
def test_demo_tools_refuse_a_malicious_checkpoint(toys, evil, monkeypatch, tmp_path, task, tool):
    path, marker = evil(task)
    args = [image_of(toys, task), CONFIGS[task], path, '--device', 'cpu']
    if task != 'cls':
        args += ['--out-dir', tmp_path]
    out = run_main(monkeypatch, ('demo', tool), args, scope=SCOPES[task])
    assert out.startswith(refusal(path)) and '\n' not in out
    assert not marker.exists()


@pytest.mark.parametrize('task, tool', DEMOS)
def test_demo_tools_load_the_checkpoints_they_load_today(
    toys, monkeypatch, capsys, tmp_path, task, tool
):
    img = image_of(toys, task)
    args = [img, CONFIGS[task], toys.checkpoint(task), '--device', 'cpu']
    if task != 'cls':
        args += ['--out-dir', tmp_path]
    assert run_main(monkeypatch, ('demo', tool), args, scope=SCOPES[task]) == 'ok'
    printed = capsys.readouterr().out
    first = {'cls': 'top-5', 'det': 'detections with score >= 0.3', 'seg': 'predicted classes'}
    assert f'{img}: ' in printed and first[task] in printed
    if task != 'cls':
        name = {'det': 'detection', 'seg': 'segmentation'}[task]
        stem = osp.splitext(osp.basename(img))[0]
        assert osp.getsize(tmp_path / f'{stem}_{name}.png') > 0
