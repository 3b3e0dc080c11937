"""tools/analysis/speed_vs_commit.py: the speed comparison against another commit, run against
this checkout itself."""

import sys

import pytest
from mmengine.registry import MODELS

from dfvt_mm.models import DFvT
from tests.conftest import load_tool

tool = load_tool('analysis', 'speed_vs_commit.py')


def test_previous_dfvt_is_imported_unregistered(repo_root):
    previous = tool.load_previous_dfvt(repo_root, name='dfvt_mm_self_test')
    assert previous is not DFvT and previous.__module__.startswith('dfvt_mm_self_test')
    assert MODELS.get('DFvT') is DFvT
    assert tool.load_previous_dfvt(repo_root, name='dfvt_mm_self_test') is previous


def test_compare_with_itself(repo_root):
    rows = tool.compare_with_previous(
        repo_root, archs=['tiny'], batch_sizes=[1], train_batch_size=1, rounds=1, image_size=64
    )
    inference, train = rows
    assert (inference['mode'], inference['batch'], train['mode']) == ('inference', 1, 'train')
    assert inference['max_diff_eager'] == 0.0  # the same code on the same weights
    assert 0 < inference['max_diff_deploy'] <= 1e-4  # folded BatchNorm: equal up to rounding
    for row in rows:
        assert row['seconds_previous'] > 0 and row['ratio_eager'] > 0


def test_compare_with_itself_in_the_runtimes(repo_root):
    """The runtime variants: the deploy model exported as each backend's classification deploy
    config exports, its output against the older model's, its ratio. fp32 runtimes compute
    what PyTorch computes; int8 only approximates it, on random weights and calibration."""
    pytest.importorskip('onnxruntime', reason='deploy extras not installed')
    pytest.importorskip('openvino', reason='deploy extras not installed')
    pytest.importorskip('nncf', reason='deploy extras not installed')
    pytest.importorskip('mmdeploy', reason='mmdeploy not installed')
    runtimes = ('onnxruntime', 'openvino', 'openvino-int8')
    rows = tool.compare_with_previous(
        repo_root,
        archs=['tiny'],
        batch_sizes=[2, 1],  # one export per backend: its batch is dynamic
        train_batch_size=0,
        rounds=1,
        image_size=64,
        runtimes=runtimes,
    )
    assert [row['batch'] for row in rows] == [2, 1]
    for row in rows:
        assert 0 < row['max_diff_onnxruntime'] <= 1e-4
        assert 0 < row['max_diff_openvino'] <= 1e-4
        # Quantized: not the fp32 output, but its size (the outputs are O(1)), not garbage.
        assert 1e-4 < row['max_diff_openvino-int8'] < 1.0
        for mode in runtimes:
            assert row[f'seconds_{mode}'] > 0 and row[f'ratio_{mode}'] > 0


def test_cli_rejects_a_folder_without_dfvt(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['speed_vs_commit.py', str(tmp_path)])
    with pytest.raises(SystemExit, match=r'^error: .* git worktree add'):
        tool.main()
