"""dfvt_mm.utils: the one way to run a training process (a log, one clear error), the one
resolver of the repository's files (a checkout's or an installed package's), the one task
vocabulary."""

import os.path as osp
import sys

import pytest
from mmengine.config import Config

from dfvt_mm.utils import paths
from dfvt_mm.utils.process import TAIL, run_logged, train_command
from dfvt_mm.utils.tasks import SCOPES, TASKS, task_of
from tests.conftest import REPO_ROOT


def test_run_logged_writes_the_log_and_polls(tmp_path):
    log, polls = tmp_path / 'run.log', []
    code = 'import time; print("hello", flush=True); time.sleep(1.2)'
    seconds = run_logged([sys.executable, '-c', code], str(log), lambda: polls.append(1))
    assert log.read_text() == 'hello\n' and seconds >= 1.2 and len(polls) >= 2


def test_run_logged_raises_with_the_log_tail(tmp_path):
    log = tmp_path / 'run.log'
    code = 'import sys; print("x" * 5000); print("the cause", file=sys.stderr); sys.exit(3)'
    with pytest.raises(RuntimeError, match=r'-c .* failed \(exit 3\); .*run.log ends:') as info:
        run_logged([sys.executable, '-c', code], str(log))
    tail = str(info.value).split('ends:\n', 1)[1]
    assert len(tail) == TAIL and tail.endswith('x' * 100 + '\nthe cause\n')


def test_train_command_runs_the_package_trainer(tmp_path):
    cmd = train_command('missing.py', str(tmp_path), '--amp')
    assert cmd[:3] == [sys.executable, '-m', 'dfvt_mm.engine.train']
    assert cmd[3:] == ['missing.py', '--work-dir', str(tmp_path), '--amp']
    with pytest.raises(RuntimeError, match=r'missing\.py'):
        run_logged(cmd[:-1], str(tmp_path / 'train.log'))


def test_root_of_a_checkout_and_of_an_installed_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: relative paths resolve from the root
    assert paths.root() == REPO_ROOT
    assert paths.resolve('configs/toy/dfvt_t_toy_in1k.py') == osp.join(
        REPO_ROOT, 'configs', 'toy', 'dfvt_t_toy_in1k.py'
    )
    # A wheel: the package's .mim folder holds configs/ and tools/ (setup.py).
    package = tmp_path / 'site-packages' / 'dfvt_mm'
    (package / '.mim' / 'configs' / 'toy').mkdir(parents=True)
    (package / '.mim' / 'configs' / 'toy' / 'a.py').write_text('')
    monkeypatch.setattr(paths, '_PACKAGE_DIR', str(package))
    assert paths.root() == str(package / '.mim')
    assert paths.resolve('configs/toy/a.py') == str(package / '.mim' / 'configs' / 'toy' / 'a.py')
    with pytest.raises(FileNotFoundError, match=r'configs/toy/b.py not found \(looked at .*\.mim'):
        paths.resolve('configs/toy/b.py')


def test_one_task_vocabulary():
    assert list(TASKS) == ['cls', 'det', 'seg'] and SCOPES == ('mmpretrain', 'mmdet', 'mmseg')
    assert [task_of(Config(dict(default_scope=s))) for s in SCOPES] == list(TASKS)
    assert [t.name for t in TASKS.values()] == ['classification', 'detection', 'segmentation']
    with pytest.raises(ValueError, match=r"default_scope is 'mmocr'; the models here are built"):
        task_of(Config(dict(default_scope='mmocr')))


def test_the_main_job_trains_through_run_logged(tmp_path, monkeypatch):
    """main_job.train: the package's train command, its progress reported as the hook writes it."""
    from dfvt_mm.toy import main_job

    monkeypatch.chdir(tmp_path)
    commands = []

    def fake_command(config, work_dir):
        commands.append((config, work_dir))
        state = '{"phase": "train", "iter": 3, "max_iters": 9}'
        progress = osp.join(work_dir, 'progress.json')
        code = f'import time; open({progress!r}, "w").write({state!r}); time.sleep(1.2)'
        return [sys.executable, '-c', code]

    monkeypatch.setattr(main_job, 'train_command', fake_command)
    seen = []
    seconds = main_job.train(
        main_job.TOY_TASKS['cls'], 0, str(tmp_path / 'log'), lambda *a: seen.append(a)
    )
    assert seconds >= 1.2 and seen == [('train', 3, 9)]
    ((config, work_dir),) = commands
    assert work_dir == 'work_dirs/dfvt_t_toy_in1k' and 'seed=0' in open(config).read()
    assert train_command(config, work_dir)[1:3] == ['-m', 'dfvt_mm.engine.train']
