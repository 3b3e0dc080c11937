"""tools/analysis/benchmark.py: a tiny CPU run of all three tasks, checked number by number, and
its CPU peak-memory measurement on allocations of known size."""

import json
import math
import os.path as osp
import re
import statistics
import subprocess
import sys

import pytest
import torch
from PIL import Image

from tests.conftest import REPO_ROOT, load_tool

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark.py')
MB = 2**20

# The paper's numbers for the pairs the run below compares, typed in again from the tables
# (main text Table 1; supplementary Tables 2 and 3): (DFvT-T, ResNet-50).
PAPER_THROUGHPUT = {'cls': (4760.1, 879.0), 'det': (39.3, 22.6), 'seg': (9.0, 7.6)}
PAPER_MEMORY = {'cls': (1.5, 3.2), 'det': (2.0, 4.0), 'seg': (7.7, 8.3)}
TITLES = {
    'cls': 'ImageNet classification',
    'det': 'Mask R-CNN + FPN (COCO)',
    'seg': 'UperNet (ADE20K)',
}


@pytest.fixture(scope='module')
def benchmark_module():
    return load_tool('analysis', 'benchmark.py')


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """DFvT-T and ResNet-50 in each task, 64x64, one thread, 2 timed iterations."""
    out_dir = tmp_path_factory.mktemp('benchmark')
    cmd = [
        sys.executable,
        TOOL,
        '--device',
        'cpu',
        '--models',
        'dfvt_t',
        'resnet50',
        '--batch-size',
        '2',
        '--shape',
        '64',
        '--det-shape',
        '64',
        '--seg-shape',
        '64',
        '--warmup',
        '0',
        '--iters',
        '2',
        '--out-dir',
        str(out_dir),
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out_dir / 'benchmark.json') as f:
        data = json.load(f)
    return data, proc.stdout, out_dir


def test_measurements(tiny_run):
    data, _, _ = tiny_run
    settings = data['settings']
    assert settings['device'] == 'cpu'
    assert settings['threads'] == 1
    assert settings['precisions'] == ['fp32']
    results = data['results']
    got = {(r['task'], r['model']) for r in results}
    assert got == {(t, m) for t in ('cls', 'det', 'seg') for m in ('dfvt_t', 'resnet50')}
    expected_params = {
        'cls': (3.97e6, 25.56e6),
        'det': (23.77e6, 44.40e6),
        'seg': (32.93e6, 66.5e6),
    }
    for r in results:
        batch = 2 if r['task'] == 'cls' else 1
        assert r['batch_size'] == batch and r['shape'] == [64, 64]
        assert r['iters'] == 2 and len(r['iter_times']) == 2
        assert math.isfinite(r['throughput']) and r['throughput'] > 0
        assert r['throughput'] == pytest.approx(batch / statistics.median(r['iter_times']))
        assert r['throughput_mean'] == pytest.approx(batch * 2 / sum(r['iter_times']))
        params = expected_params[r['task']][r['model'] == 'resnet50']
        assert r['params'] == pytest.approx(params, rel=0.01)
        # Weights in fp32 (plus buffers), the input batch, and what the pass itself held.
        assert r['weight_bytes'] >= 4 * r['params']
        assert r['input_bytes'] == batch * 3 * 64 * 64 * 4
        # Every model's first layer alone outputs more than its input.
        assert r['input_bytes'] < r['activation_peak'] < 2048 * MB
        total = r['weight_bytes'] + r['input_bytes'] + r['activation_peak']
        assert r['peak_memory'] == total < 4096 * MB


def test_ratios(tiny_run):
    data, stdout, _ = tiny_run
    results = {(r['task'], r['model']): r for r in data['results']}
    ratios = data['ratios']
    assert sorted(r['task'] for r in ratios) == ['cls', 'det', 'seg']
    blocks = stdout.split('\n\n')
    for r in ratios:
        task = r['task']
        assert (r['model'], r['peer'], r['precision']) == ('dfvt_t', 'resnet50', 'fp32')
        ours, theirs = results[(task, 'dfvt_t')], results[(task, 'resnet50')]
        assert r['throughput_ratio'] == pytest.approx(ours['throughput'] / theirs['throughput'])
        assert r['memory_ratio'] == pytest.approx(ours['peak_memory'] / theirs['peak_memory'])
        a, b = PAPER_THROUGHPUT[task]
        assert r['paper_throughput_ratio'] == pytest.approx(a / b)
        a, b = PAPER_MEMORY[task]
        assert r['paper_memory_ratio'] == pytest.approx(a / b)
        # The printed row shows the same four numbers.
        (block,) = [b for b in blocks if b.startswith(TITLES[task]) and 'DFvT / peer' in b]
        row = re.search(r'^DFvT-T / ResNet-50\s+(.*)$', block, re.M).group(1).split()
        keys = ('throughput_ratio', 'paper_throughput_ratio', 'memory_ratio', 'paper_memory_ratio')
        assert row == [f'{r[k]:.2f}' for k in keys]


def test_paper_numbers_kept(tiny_run):
    data, _, _ = tiny_run
    paper = data['paper']
    assert paper['cls']['swin_t'] == dict(
        params=28.3, flops=4.5, memory=8.0, throughput=536.8, top1=81.3
    )
    assert paper['det']['dfvt_b']['throughput'] == 22.7
    assert paper['seg']['swin_t']['memory'] == 9.5


def test_plot(tiny_run):
    data, _, out_dir = tiny_run
    png = out_dir / 'speed_accuracy.png'
    assert data['plot'] == str(png)
    assert png.stat().st_size > 10_000
    with Image.open(png) as image:
        assert image.format == 'PNG'
        assert image.size == (700, 500)
        # Not a blank canvas: DFvT's red star and the peers' blue points are drawn.
        colours = {pixel[:3] for pixel in image.convert('RGB').getdata()}
    assert (214, 39, 40) in colours  # matplotlib's tab:red
    assert (31, 119, 180) in colours  # tab:blue


@pytest.mark.parametrize('mb', [1, 4, 16])
def test_cpu_peak_memory_one_tensor(benchmark_module, mb):
    def allocate():
        torch.empty(mb * MB // 4, dtype=torch.float32).fill_(1.0)

    peak = benchmark_module.cpu_peak_memory(allocate)
    assert mb * MB <= peak < 2 * mb * MB


def test_cpu_peak_memory_time_order(benchmark_module):
    def one_after_another():
        for _ in range(3):
            torch.ones(MB)  # 4 MB, freed at once

    def held_together():
        held = [torch.ones(MB) for _ in range(3)]
        del held

    before = torch.ones(4 * MB)  # allocated outside: its free must not lower the peak

    def free_outside():
        nonlocal before
        before = None
        torch.ones(MB)

    assert 4 * MB <= benchmark_module.cpu_peak_memory(one_after_another) < 8 * MB
    assert 12 * MB <= benchmark_module.cpu_peak_memory(held_together) < 16 * MB
    assert 4 * MB <= benchmark_module.cpu_peak_memory(free_outside) < 8 * MB


def test_unknown_model(benchmark_module, capsys):
    with pytest.raises(SystemExit):
        benchmark_module.parse_args(['--models', 'dfvt_t', 'resnet_99'])
    err = capsys.readouterr().err
    assert "unknown model(s) ['resnet_99']" in err
    assert 'mobilenet_v2' in err and 'deit_s' in err
    with pytest.raises(SystemExit):
        benchmark_module.parse_args(['--tasks', 'det', '--models', 'mobilenet_v2'])
    assert 'in none of the tasks' in capsys.readouterr().err


def test_configs_and_no_pretrained(benchmark_module):
    for table in benchmark_module.MODEL_SPECS.values():
        for spec in table.values():
            assert osp.isfile(benchmark_module.resolve_config(spec.config)), spec
    cfg = dict(
        pretrained='open-mmlab://resnet50_v1c',
        backbone=dict(
            init_cfg=dict(type='Pretrained', checkpoint='x.pth'),
            layers=[dict(init_cfg=[dict(type='Pretrained'), dict(type='Kaiming')])],
        ),
        head=dict(init_cfg=dict(type='Normal', std=0.01)),
    )
    assert benchmark_module.strip_pretrained(cfg) == dict(
        pretrained=None,
        backbone=dict(init_cfg=None, layers=[dict(init_cfg=[dict(type='Kaiming')])]),
        head=dict(init_cfg=dict(type='Normal', std=0.01)),
    )
