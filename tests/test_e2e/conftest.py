"""End-to-end runs share one scratch workspace laid out like the repository's working directory
(``data/``, ``work_dirs/``), and run the tools in it as a user would, from that directory."""

import glob
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def run_tool(args, cwd, timeout=1800, env=None):
    """Run a repo tool (or any command), failing with the end of its output."""
    cmd = [sys.executable, *args] if str(args[0]).endswith('.py') else list(args)
    full_env = {**os.environ, 'PYTHONUNBUFFERED': '1', **(env or {})}
    result = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )
    assert result.returncode == 0, f'{" ".join(map(str, cmd))} failed:\n' + (
        result.stdout[-4000:] + result.stderr[-4000:]
    )
    return result.stdout + result.stderr


def tool(*parts):
    return os.path.join(REPO_ROOT, 'tools', *parts)


def config(*parts):
    return os.path.join(REPO_ROOT, 'configs', *parts)


def last_metric(log: str, name: str) -> float:
    values = re.findall(rf'{re.escape(name)}: ([0-9.]+)', log)
    assert values, f'{name} not found in the output'
    return float(values[-1])


def only(pattern: str) -> str:
    paths = glob.glob(pattern)
    assert len(paths) == 1, f'expected one file for {pattern}, found {paths}'
    return paths[0]


@pytest.fixture(scope='session')
def mim():
    return [os.path.join(os.path.dirname(sys.executable), 'mim')]


@pytest.fixture(scope='session')
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp('workspace')


@pytest.fixture(scope='session')
def cls_run(workspace):
    """The toy classifier, trained into its default work dir (the detector starts from it)."""
    run_tool([tool('data', 'make_toy_imagenet.py'), 'data/toy_imagenet'], cwd=workspace)
    log = run_tool([tool('train.py'), config('toy', 'dfvt_t_toy_in1k.py')], cwd=workspace)
    return only(str(workspace / 'work_dirs' / 'dfvt_t_toy_in1k' / 'epoch_*.pth')), log


@pytest.fixture(scope='session')
def det_run(workspace, cls_run):
    run_tool([tool('data', 'make_toy_coco.py'), 'data/toy_coco'], cwd=workspace)
    log = run_tool([tool('train.py'), config('toy', 'mask_rcnn_dfvt_t_toy_coco.py')], cwd=workspace)
    return only(str(workspace / 'work_dirs' / 'mask_rcnn_dfvt_t_toy_coco' / 'epoch_*.pth')), log


@pytest.fixture(scope='session')
def seg_run(workspace, cls_run):
    run_tool([tool('data', 'make_toy_ade20k.py'), 'data/toy_ade20k'], cwd=workspace)
    log = run_tool([tool('train.py'), config('toy', 'upernet_dfvt_t_toy_ade20k.py')], cwd=workspace)
    return only(str(workspace / 'work_dirs' / 'upernet_dfvt_t_toy_ade20k' / 'iter_*.pth')), log
