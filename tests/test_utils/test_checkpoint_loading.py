"""Checkpoint loading stays ``weights_only=True`` after ``import dfvt_mm``, and still loads what
mmengine's Runner saves (torch 2.13 refuses those files with stock mmengine 0.10.7).

The paths here run in-process on the toy Runner (seconds); the command-line paths (tools/test.py,
``mim test``, the inferencers) are in tests/test_bad_inputs/test_unsafe_checkpoints.py.
"""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner, load_checkpoint
from mmengine.runner import checkpoint as mm_checkpoint
from torch.utils.data import DataLoader

import dfvt_mm  # noqa: F401  (registers the safe loader)
from dfvt_mm.models import DFvT, convert_official_checkpoint
from dfvt_mm.utils import UnsafeCheckpointError, checkpoint_safe_globals, load_from_local
from dfvt_mm.utils.checkpoint import TRUST_ENV
from tests.conftest import load_tool
from tests.helpers import MINI_CLS, load_reference
from tests.toy_runner import ToyData, ToyModel
from tests.unsafe_checkpoint import save_with_payload


def make_runner(work_dir, max_epochs, resume=False, load_from=None):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'toy_{max_epochs}_{resume}_{load_from is not None}',
        train_dataloader=DataLoader(ToyData(), batch_size=4),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], gamma=0.5),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume,
        load_from=load_from,
        default_scope='mmengine',
    )


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory):
    """What mmengine's CheckpointHook saves: meta, weights, message hub (HistoryBuffer, numpy),
    optimizer and scheduler states."""
    work_dir = tmp_path_factory.mktemp('toy_runner')
    make_runner(work_dir, max_epochs=2).train()
    return str(work_dir / 'epoch_2.pth')


@pytest.fixture
def evil(tmp_path, runner_ckpt):
    """The toy Runner's own checkpoint with a payload that writes ``marker`` when unpickled."""
    path, marker = tmp_path / 'evil.pth', tmp_path / 'pwned'
    save_with_payload(torch.load(runner_ckpt, weights_only=False), path, marker)
    return str(path), marker


def test_runner_checkpoint_holds_the_allow_listed_types(runner_ckpt):
    ckpt = load_from_local(runner_ckpt)
    assert sorted(ckpt) == ['message_hub', 'meta', 'optimizer', 'param_schedulers', 'state_dict']
    loss = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer) and loss.data[0].dtype == np.float64
    assert len(loss.data[0]) == 4  # 2 epochs x 2 iterations
    assert loss.mean() == pytest.approx(loss.data[0].mean())  # its statistics methods came back
    assert isinstance(ckpt['message_hub']['runtime_info']['eta'], np.floating)
    assert ckpt['meta']['epoch'] == 2 and ckpt['param_schedulers'][0]['_last_value'] == [0.005]


def test_runner_resumes_from_its_own_checkpoint(tmp_path, runner_ckpt):
    runner = make_runner(tmp_path, max_epochs=3, resume=True, load_from=runner_ckpt)
    runner.load_or_resume()
    # Epoch, optimizer state (momentum buffers) and the scheduler's halved lr came back
    # (a fresh run starts at epoch 0 with lr 0.01 and no buffers).
    assert runner.epoch == 2 and runner.iter == 4
    assert runner.optim_wrapper.get_lr()['lr'] == [pytest.approx(0.005)]
    assert len(runner.optim_wrapper.optimizer.state) == 2  # weight and bias
    runner.train()
    assert runner.epoch == 3 and runner.iter == 6
    assert (tmp_path / 'epoch_3.pth').exists()


def test_runner_load_from_its_own_checkpoint(tmp_path, runner_ckpt):
    runner = make_runner(tmp_path, max_epochs=1, load_from=runner_ckpt)
    runner.load_or_resume()
    saved = load_from_local(runner_ckpt)['state_dict']
    torch.testing.assert_close(runner.model.linear.weight, saved['linear.weight'])


def test_stock_mmengine_fails_on_its_own_checkpoint(runner_ckpt):
    """Why the loader exists: mmengine's own cannot read its checkpoints on torch 2.13."""
    stock = mm_checkpoint.load_from_local
    assert mm_checkpoint.CheckpointLoader._schemes[''] is load_from_local
    mm_checkpoint.CheckpointLoader.register_scheme('', loader=stock, force=True)
    try:
        with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
            mm_checkpoint._load_checkpoint(runner_ckpt)
    finally:
        mm_checkpoint.CheckpointLoader.register_scheme('', loader=load_from_local, force=True)


def test_the_allow_list_is_scoped_to_the_loader(runner_ckpt):
    """Importing dfvt_mm changes no other torch.load, and keeps what the user allowed."""
    before = set(torch.serialization.get_safe_globals())
    load_from_local(runner_ckpt)
    assert set(torch.serialization.get_safe_globals()) == before
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer|numpy'):
        torch.load(runner_ckpt, weights_only=True)
    with torch.serialization.safe_globals([np.ndarray]):
        load_from_local(runner_ckpt)
        assert np.ndarray in torch.serialization.get_safe_globals()
    assert set(torch.serialization.get_safe_globals()) == before


def test_the_allow_list_is_exactly_mmengines_types():
    names = {
        g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
        for g in checkpoint_safe_globals()
    }
    assert {
        'mmengine.logging.history_buffer.HistoryBuffer',
        'builtins.getattr',
        'numpy.ndarray',
        'numpy.dtype',
        'numpy.core.multiarray._reconstruct',
        'numpy._core.multiarray._reconstruct',
        'numpy.core.multiarray.scalar',
        'numpy._core.multiarray.scalar',
    } == {n for n in names if 'DType' not in n}
    # The rest are numpy's 12 numeric dtype classes (what a dtype's state is given to).
    dtypes = {n for n in names if 'DType' in n}
    assert len(dtypes) == 12 and all(n.startswith('numpy.dtypes.') for n in dtypes)


class GetattrOf:
    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


@pytest.mark.parametrize(
    'owner, name', [(HistoryBuffer, 'update'), (np.ndarray, 'tofile'), (HistoryBuffer, '__init__')]
)
def test_getattr_reaches_only_the_history_buffer_statistics(tmp_path, owner, name):
    torch.save({'x': GetattrOf(owner, name)}, tmp_path / 'getattr.pth')
    with pytest.raises(UnsafeCheckpointError, match=rf"getattr\({owner.__name__}, '{name}'\)"):
        load_from_local(str(tmp_path / 'getattr.pth'))


def mini_classifier_ckpt(path):
    ref, _, _ = load_reference(MINI_CLS)
    converted, _ = convert_official_checkpoint(ref['state_dict'])
    torch.save(dict(state_dict=converted), path)
    return ref['arch'], converted


def pretrained_dfvt(arch, path):
    init_cfg = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')
    return DFvT(arch, out_indices=(3,), init_cfg=init_cfg)


def test_init_cfg_pretrained_loads_and_refuses(tmp_path):
    arch, converted = mini_classifier_ckpt(tmp_path / 'mini.pth')
    model = pretrained_dfvt(arch, tmp_path / 'mini.pth')
    model.init_weights()
    torch.testing.assert_close(model.norm3.weight, converted['backbone.norm3.weight'])

    save_with_payload(torch.load(tmp_path / 'mini.pth'), tmp_path / 'evil.pth', tmp_path / 'pwned')
    with pytest.raises(
        UnsafeCheckpointError, match=r'evil.pth: refused to load it \(it calls exec'
    ):
        pretrained_dfvt(arch, tmp_path / 'evil.pth').init_weights()
    assert not (tmp_path / 'pwned').exists()


def test_malicious_checkpoint_is_refused_by_mmengine(evil):
    path, marker = evil
    with pytest.raises(UnsafeCheckpointError, match=f'{TRUST_ENV}=1'):
        mm_checkpoint._load_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(ToyModel(), path)
    assert not marker.exists()


@pytest.mark.parametrize('resume', [False, True], ids=['load_from', 'resume'])
def test_malicious_checkpoint_is_refused_by_the_runner(tmp_path, evil, resume):
    path, marker = evil
    runner = make_runner(tmp_path, max_epochs=3, resume=resume, load_from=path)
    with pytest.raises(UnsafeCheckpointError, match='it calls exec'):
        runner.train()
    assert not marker.exists()


def test_malicious_checkpoint_is_refused_by_the_converter(tmp_path, monkeypatch):
    ref, _, _ = load_reference(MINI_CLS)
    src, dst, marker = tmp_path / 'raw.pth', tmp_path / 'out.pth', tmp_path / 'pwned'
    save_with_payload(dict(model=ref['state_dict']), src, marker)
    converter = load_tool('model_converters', 'dfvt_official_to_mm.py')
    monkeypatch.setattr(sys, 'argv', ['dfvt_official_to_mm.py', str(src), str(dst)])
    with pytest.raises(SystemExit) as exit_info:
        converter.main()
    assert str(exit_info.value.code).startswith(f'error: {src}: refused to load it (it calls exec)')
    assert not marker.exists() and not dst.exists()
    # The same file without the payload converts.
    torch.save(dict(model=ref['state_dict']), src)
    assert 'classification checkpoint' in converter.convert(str(src), str(dst))


def test_the_documented_opt_in_loads_a_trusted_file(evil, monkeypatch):
    """TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 is honoured (torch itself ignores it when a caller
    passes weights_only=True) and does what it says: the file's code runs."""
    path, marker = evil
    monkeypatch.setenv(TRUST_ENV, '1')
    ckpt = mm_checkpoint._load_checkpoint(path)
    assert ckpt['meta']['epoch'] == 2
    assert marker.read_text() == 'pwned'


def test_config_custom_imports_apply_the_loader(tmp_path):
    """How tools/train.py, tools/test.py and `mim` load a config: custom_imports imports dfvt_mm.
    A fresh process, so that the test run's own imports do not count."""
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['dfvt_mm'], allow_failed_imports=False)\n")
    code = textwrap.dedent(f"""
        from mmengine.config import Config
        from mmengine.runner.checkpoint import CheckpointLoader
        Config.fromfile({str(cfg)!r})
        loader = CheckpointLoader._schemes['']
        print(loader.__module__, loader.__name__)
    """)
    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, cwd=str(tmp_path)
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['dfvt_mm.utils.checkpoint', 'load_from_local']
