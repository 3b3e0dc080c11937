"""tools/analysis/backbone_summary.py: per-stage shapes, parameters and FLOPs of DFvT-T/S/B."""

import subprocess
import sys

from dfvt_mm.analysis.complexity import backbone_summary
from dfvt_mm.utils.metafile import load_models


def test_backbone_summary():
    """At the paper's 224x224: the counts recorded in configs/metafiles as this code's."""
    rows = {r['backbone']: r for r in backbone_summary((224, 224))}
    assert list(rows) == ['DFvT-T', 'DFvT-S', 'DFvT-B']
    records = {r.backbone: r for r in load_models('cls')}
    for label, C in (('DFvT-T', 48), ('DFvT-S', 96), ('DFvT-B', 128)):
        # Strides 4/8/16/32; channels C, 2C, 4C, 8C.
        assert rows[label]['stage_shapes'] == [
            (C, 56, 56),
            (2 * C, 28, 28),
            (4 * C, 14, 14),
            (8 * C, 7, 7),
        ]
        assert rows[label]['params'] == records[label].measured_params
        assert rows[label]['flops'] == records[label].measured_flops
        assert rows[label]['paper_params'] == records[label].params
    # The authors' parameter counts (reference/README.md).
    assert [rows[k]['params'] for k in rows] == [3_967_627, 11_225_485, 37_331_136]


def test_backbone_summary_tool(repo_root):
    out = subprocess.run(
        [sys.executable, 'tools/analysis/backbone_summary.py', '--size', '64', '96'],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert '(48, 16, 24) (96, 8, 12) (192, 4, 6) (384, 2, 3)' in out.stdout
    assert 'DFvT-B' in out.stdout
