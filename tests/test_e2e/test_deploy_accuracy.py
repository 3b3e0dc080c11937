"""The main job's three trained toy models deployed to OpenVINO (fp32; int8 by NNCF, calibrated on
the training split; bf16 where this CPU has it) hold the accuracy limits against the same models
in PyTorch fp32 on the whole toy validation sets: top-1 within 1.0 point and the top-1 class equal
on >= 98 % of the images, mIoU within 1.0, bbox and segm mAP within 0.02
(dfvt_mm.deployment.accuracy.LIMITS, the issue's limits, not loosened here).

Whole validation sets (cls 200, det and seg 80 images), because the limits are tight in images:
on 200 images one image is 0.5 point of top-1. Measured with the main job's checkpoints (seed 0,
a 2-core AMD EPYC with AVX-512, VNNI and bf16), the margins were:

- int8: top-1 94.5 -> 94.0 (0.5 of 1.0; the class differs on 1 image, 2 allowed per 100; over
  three calibration samples 0-1 images differed, against the fp32 IR), mIoU -0.03 of 1.0,
  bbox mAP -0.001 and segm mAP -0.001 of 0.02;
- bf16: top-1 unchanged, no image differing, mIoU +0.02, bbox -0.002, segm -0.006;
- fp32: top-1 unchanged, mIoU 0, bbox -0.002, segm -0.004 (mmdeploy's post-processing, not
  mmdet's: see docs/deployment.md).

The classifier's int8 flips are its near-ties: only images whose two best fp32 class scores are
within 0.1 of each other flipped (2 of the 200 are), while int8 moved a class score by at most
0.07-0.10 (three calibration samples).

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


@pytest.mark.parametrize('mode', ['openvino', 'openvino-int8', 'openvino-bf16'])
def test_openvino_holds_the_accuracy_limits(mode, main_job, workspace):
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
