"""The benchmark's precision table: each runtime and precision measured on the toy validation set
from the main job's layout (``data/``, ``work_dirs/<toy config>/last_checkpoint``), and the table
that puts that accuracy beside the speed."""

import os
import sys

import pytest

from dfvt_mm.analysis.precision import precision_accuracy, toy_checkpoints
from dfvt_mm.analysis.tables import precision_table
from dfvt_mm.toy.data import write_classification
from dfvt_mm.toy.main_job import TOY_TASKS, work_dir_of
from tests.test_deploy.test_deploy import _save_random_checkpoint


@pytest.fixture
def main_job_layout(tmp_path, monkeypatch):
    """A directory laid out as the main job leaves it, for the classifier only: a small toy
    dataset and a seeded random checkpoint named by ``last_checkpoint``."""
    toy = TOY_TASKS['cls']
    write_classification(str(tmp_path / toy.data_root), train_per_class=2, val_per_class=2)
    work_dir = tmp_path / work_dir_of(toy)
    work_dir.mkdir(parents=True)
    _save_random_checkpoint('cls', str(work_dir / 'epoch_1.pth'))
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    monkeypatch.chdir(tmp_path)  # the toy configs' data roots are relative, as for the tools
    return tmp_path


def test_toy_checkpoints(main_job_layout):
    found = toy_checkpoints('.')
    assert list(found) == ['cls']  # detection and segmentation were not trained here
    assert os.path.samefile(found['cls'], main_job_layout / 'work_dirs/dfvt_t_toy_in1k/epoch_1.pth')


def test_precision_accuracy_on_the_main_job_layout(main_job_layout):
    pytest.importorskip('openvino', reason='deploy extras not installed')
    pytest.importorskip('nncf', reason='deploy extras not installed')
    pytest.importorskip('mmdeploy', reason='mmdeploy not installed')
    modes = ('onnxruntime', 'openvino', 'openvino-bf16', 'openvino-int8')
    rows = precision_accuracy(modes, work_dir='precision', val_images=6, log=lambda _: None)
    by_mode = {row['mode']: row for row in rows}
    assert [row['task'] for row in rows] == ['cls'] * 4 and list(by_mode) == list(modes)
    for mode in ('onnxruntime', 'openvino'):
        row = by_mode[mode]
        # fp32 runtimes compute what PyTorch computes: the same top-1 on the same images.
        assert row['num_images'] == 6 and row['passed'] is True
        assert row['backend'] == pytest.approx(row['pytorch'], abs=1e-6)
        assert [c['name'] for c in row['checks']] == [
            f'top-1 (%): |{row_name(mode)} - PyTorch fp32|',
            'top-1 classes differing from PyTorch (%)',
        ]
    int8 = by_mode['openvino-int8']
    # Calibrated on the training split (5 classes x 2 images), never on validation images;
    # random weights: its accuracy is no measure, its checks are there.
    assert int8['calibration_images'] == 10 and len(int8['checks']) == 2
    bf16 = by_mode['openvino-bf16']
    assert ('n_a' in bf16) != ('checks' in bf16)


def row_name(mode):
    return {'onnxruntime': 'onnxruntime fp32', 'openvino': 'openvino fp32'}[mode]


def test_precision_table():
    speed = dict(task='cls', ours=True, shape=[224, 224], params=1)
    results = [
        dict(speed, model='dfvt_t', label='DFvT-T', batch=b, mode=m, images_per_s=v)
        for b, m, v in [
            (1, 'eager', 10.0),
            (1, 'openvino', 25.0),
            (1, 'openvino-int8', 30.0),
            (16, 'eager', 20.0),
            (16, 'openvino', 40.0),
            (16, 'openvino-int8', 70.0),
        ]
    ]
    results.append(
        dict(speed, model='dfvt_t', label='DFvT-T', batch=1, mode='openvino-bf16', n_a='no bf16')
    )
    metrics = dict(pytorch={'accuracy/top1': 94.5})
    accuracy = [
        dict(task='cls', mode='openvino', backend={'accuracy/top1': 94.5}, passed=True, **metrics),
        dict(task='cls', mode='openvino-bf16', n_a='no bf16'),
        dict(
            task='cls',
            mode='openvino-int8',
            backend={'accuracy/top1': 90.0},
            passed=False,
            **metrics,
        ),
        dict(
            task='seg', mode='openvino', backend={'mIoU': 69.8}, pytorch={'mIoU': 69.9}, passed=True
        ),
    ]
    lines = precision_table(results, accuracy, 'cpu', 'simple').splitlines()
    assert lines[0].split() == [
        'precision', 'DFvT-T,', 'batch', '1', '(x', 'eager)', 'DFvT-T,', 'batch', '16', '(x',
        'eager)', 'toy', 'top-1', 'toy', 'mIoU', 'accuracy', 'holds',
    ]  # fmt: skip
    assert [line.split() for line in lines[2:]] == [
        ['eager', 'fp32', '1.00', '1.00', '94.5', '69.9', '-'],
        ['OpenVINO', 'fp32', '2.50', '2.00', '94.5', '69.8', 'yes'],
        ['OpenVINO', 'bf16', '-', '-', 'n/a', '-', '-'],
        ['OpenVINO', 'int8', '3.00', '3.50', '90.0', '-', 'no'],
    ]


def test_runtime_modes_report_why_they_cannot_run(monkeypatch):
    from dfvt_mm.analysis import runtimes

    monkeypatch.setitem(sys.modules, 'nncf', None)  # import nncf fails
    assert runtimes.runtime_not_available('openvino-int8') == (
        'nncf is not installed (requirements/deploy.txt)'
    )
