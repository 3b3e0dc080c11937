"""The main job's three trained toy models deployed to OpenVINO in reduced precision (int8 by
NNCF, calibrated on the training split; bf16 where this CPU has it) hold the accuracy limits
against the same models in PyTorch fp32 on the whole toy validation sets: top-1 within 1.0 point
and the top-1 class equal on >= 98 % of the images, mIoU within 1.0, bbox and segm mAP within
0.02 (dfvt_mm.deployment.accuracy.LIMITS, the issue's limits, not loosened here).

fp32 parity of every backend is tested on random weights (tests/test_deploy); what reduced
precision costs needs trained weights, which only the main job makes.
"""

import json
import sys

import pytest

from .conftest import run_tool

pytest.importorskip('openvino', reason='deploy extras not installed (requirements/deploy.txt)')
pytest.importorskip('nncf', reason='deploy extras not installed (requirements/deploy.txt)')
pytest.importorskip('mmdeploy', reason='mmdeploy not installed (tools/bootstrap.sh)')

from dfvt_mm.deployment import bf16_unsupported_reason  # noqa: E402

# In a process of its own, from the workspace (the toy configs' data roots and the checkpoints
# are relative): OpenVINO's threads and NNCF's memory stay out of the test session.
MEASURE = (
    'import json, sys; from dfvt_mm.analysis.precision import precision_accuracy; '
    'json.dump(precision_accuracy([sys.argv[1]], work_dir=sys.argv[2], log=lambda _: None), '
    'open(sys.argv[3], "w"))'
)


@pytest.mark.parametrize('mode', ['openvino-int8', 'openvino-bf16'])
def test_reduced_precision_holds_the_accuracy_limits(mode, main_job, workspace):
    if mode == 'openvino-bf16' and (reason := bf16_unsupported_reason()):
        pytest.skip(reason)
    out = workspace / 'work_dirs' / f'precision_{mode}.json'
    work_dir = str(workspace / 'work_dirs' / 'precision')
    run_tool([sys.executable, '-c', MEASURE, mode, work_dir, str(out)], cwd=workspace)
    rows = json.loads(out.read_text())
    assert sorted(row['task'] for row in rows) == ['cls', 'det', 'seg']
    for row in rows:
        # Every validation image of the toy sets (cls 200, det and seg 80).
        assert row['num_images'] >= 80, row
        if mode == 'openvino-int8':
            assert row['calibration_images'] >= 80  # the training split, never validation
        failed = [c for c in row['checks'] if c['passed'] is not True]
        assert not failed, (row['task'], row['pytorch'], row['backend'], failed)
