"""tools/analysis/backbone_summary.py: per-stage shapes, parameters and FLOPs of DFvT-T/S/B."""

import subprocess
import sys


def test_backbone_summary_table(repo_root):
    out = subprocess.run(
        [sys.executable, 'tools/analysis/backbone_summary.py', '--size', '64', '96'],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = {line.split()[0]: line for line in out.stdout.splitlines() if line.split()}
    # Strides 4/8/16/32 of a 64x96 input; channels of DFvT-T.
    assert '(48, 16, 24) (96, 8, 12) (192, 4, 6) (384, 2, 3)' in rows['tiny']
    # Parameters of the ImageNet classifiers (the authors' counts), in millions.
    for arch, params in (('tiny', '3.97'), ('small', '11.23'), ('base', '37.33')):
        assert rows[arch].split()[-4] == params
