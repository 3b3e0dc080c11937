"""The benchmark: every speed mode on a tiny DFvT, a quick run of tools/analysis/benchmark.py over
the three tasks checked number by number, its tables, and the CPU peak-memory measurement on
allocations of known size."""

import json
import os.path as osp
import statistics
import subprocess
import sys

import pytest
import torch
from PIL import Image

import dfvt_mm  # noqa: F401
from dfvt_mm.analysis import benchmark as bench
from dfvt_mm.analysis.memory import cpu_peak_memory
from dfvt_mm.analysis.speed import time_calls
from dfvt_mm.analysis.tables import readme_block, report, speed_table
from dfvt_mm.deployment import bf16_unsupported_reason
from dfvt_mm.utils.metafile import ModelRecord, load_models, peers_path
from tests.conftest import REPO_ROOT, load_tool

MB = 2**20
SHAPE = (64, 64)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """A tiny DFvT classifier (embed 16, one block per stage, 10 classes) as a metafile record."""
    root = tmp_path_factory.mktemp('tiny')
    config = root / 'dfvt_tiny_cls.py'
    config.write_text(
        f'_base_ = [{osp.join(REPO_ROOT, "configs", "dfvt_t_in1k.py")!r}]\n'
        'model = dict(\n'
        '    backbone=dict(arch=dict(_delete_=True, embed_dims=16, depths=[1, 1, 1, 1],\n'
        '                            num_heads=[1, 2, 4, 8], mlp_ratio=2.0)),\n'
        '    head=dict(in_channels=128, num_classes=10))\n'
    )
    record = ModelRecord(name='dfvt_tiny_cls', task='cls', backbone='DFvT-tiny', config=str(config))
    return record, root


# In a process of its own (as tests/test_e2e/test_deploy_accuracy.py): OpenVINO's and NNCF's
# threads, torch.compile's caches and onnxruntime's sessions stay out of the test session.
EVERY_MODE = """
import json, sys
import torch
import dfvt_mm
from dfvt_mm.analysis import benchmark as bench
from dfvt_mm.analysis.speed import time_calls
from dfvt_mm.utils.metafile import ModelRecord

config, work_dir, out = sys.argv[1:]
record = ModelRecord(name='dfvt_tiny_cls', task='cls', backbone='DFvT-tiny', config=config)
settings = bench.Settings(compile_backend='eager', work_dir=work_dir)
torch.manual_seed(0)
model = bench.ModelUnderTest(record, True, 'cls', settings)
calls, n_a, inputs = model.calls(2, (64, 64))
logits = calls['eager']()
times = time_calls(calls, warmup=1, iters=3, min_time=0)
json.dump(dict(
    shape=list(inputs.shape), modes=sorted(calls), n_a=sorted(n_a),
    diffs=model.max_differences(calls, inputs), logits_shape=list(logits.shape),
    logits_std=logits.std().item(), logits_max=logits.abs().max().item(),
    times={mode: list(t) for mode, t in times.items()},
    amp=bench.amp_dtype(torch.device('cpu')) is not None,
), open(out, 'w'))
"""


def test_every_mode_on_a_tiny_model(tiny):
    record, root = tiny
    out = root / 'every_mode.json'
    cmd = [sys.executable, '-c', EVERY_MODE, record.config, str(root / 'onnx'), str(out)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got['shape'] == [2, 3, 64, 64]
    has_bf16 = got['amp']
    # OpenVINO's bf16 needs its own kernels (AVX512_BF16 or AMX), not just the lscpu flag.
    openvino_bf16 = bf16_unsupported_reason() is None
    expected_n_a = {'amp'} - ({'amp'} if has_bf16 else set())
    expected_n_a |= set() if openvino_bf16 else {'openvino-bf16'}
    assert set(got['modes']) == set(bench.MODES) - expected_n_a
    assert set(got['n_a']) == expected_n_a
    # Each mode computes the eager logits: folded BatchNorms, onnxruntime and OpenVINO f32 to
    # float32 rounding, dynamo exactly, bf16 to its 8-bit mantissa; int8 approximates them.
    diffs = got['diffs']
    assert diffs['eager'] == 0.0
    assert diffs['deploy'] < 1e-4 and diffs['compile'] < 1e-5 and diffs['onnxruntime'] < 1e-4
    assert diffs['openvino'] < 1e-4
    assert got['logits_shape'] == [2, 10] and got['logits_std'] > 1e-3  # not a constant output
    bound = 0.1 * got['logits_max'] + 0.05
    for mode, available in (('amp', has_bf16), ('openvino-bf16', openvino_bf16)):
        if available:
            assert 0 < diffs[mode] < bound
    # Random weights and calibration: int8 is not the fp32 output, but of its size.
    assert 1e-4 < diffs['openvino-int8'] < got['logits_max'] + 1
    assert all(len(t) >= 3 and min(t) > 0 for t in got['times'].values())


def test_modes_that_do_not_apply(tiny, monkeypatch):
    record, root = tiny
    monkeypatch.setattr(bench, 'cpu_has_bf16', lambda: False)  # an AVX2-only CPU
    settings = bench.Settings(modes=('amp',), peer_modes=('deploy',), work_dir=str(root / 'onnx'))
    ours = bench.ModelUnderTest(record, True, 'cls', settings)
    assert ours.modes() == ['eager', 'amp']  # eager always: the reference of the others
    calls, n_a, _ = ours.calls(1, SHAPE)
    assert list(calls) == ['eager']
    assert n_a == {'amp': 'this CPU has no native bfloat16 (lscpu: no avx512_bf16 / amx_bf16)'}
    row = dict(task='cls', batch=1, shape=[64, 64], model='m', label='M', params=1)
    results = [
        dict(row, mode='eager', images_per_s=1.0, peak_memory=1),
        dict(row, mode='amp', n_a=n_a['amp']),
    ]
    assert 'n/a, bf16 autocast: this CPU has no native bfloat16' in report(results, [], 'cpu')
    # Peers take peer_modes; a backbone without switch_to_deploy has no deploy mode.
    peer = bench.ModelUnderTest(record, False, 'cls', settings)
    assert peer.modes() == ['eager', 'deploy'] and peer._not_available('deploy') is None
    peer.model.backbone = torch.nn.Identity()
    assert peer._not_available('deploy') == 'the backbone has no switch_to_deploy'


def test_select_models():
    keys = [(r.key, ours) for r, ours in bench.select_models('det')]
    assert keys == [
        ('dfvt_t', True),
        ('dfvt_s', True),
        ('dfvt_b', True),
        ('resnet_50', False),
        ('swin_t', False),
    ]
    chosen = bench.select_models('cls', ['DFvT-T', 'resnet50', 'MobileNetV2'])
    assert [r.key for r, _ in chosen] == ['dfvt_t', 'mobilenetv2', 'resnet_50']
    with pytest.raises(ValueError, match=r"unknown model\(s\) \['resnet_99'\]; choose from"):
        bench.select_models('cls', ['resnet_99'])


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    """DFvT-T and ResNet-50 in each task, 64x64, one thread, eager and deploy, one timed call;
    the README block written from the run."""
    out_dir = tmp_path_factory.mktemp('benchmark')
    readme = out_dir / 'README.md'
    readme.write_text('# x\n<!-- benchmark: begin -->\nTODO\n<!-- benchmark: end -->\nrest\n')
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark.py'), '--quick']
    cmd += ['--models', 'dfvt_t', 'resnet50', '--modes', 'eager', 'deploy', '--iters', '1']
    cmd += ['--warmup', '0', '--threads', '1', '--out-dir', str(out_dir)]
    cmd += ['--markdown', str(out_dir / 'bench.md'), '--readme', str(readme)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out_dir / 'benchmark.json') as f:
        return json.load(f), proc.stdout, out_dir


def test_quick_run_measurements(quick_run):
    data, _, _ = quick_run
    results = data['results']
    assert data['threads'] == 1 and data['settings']['device'] == 'cpu'
    got = {(r['task'], r['model'], r['batch'], r['mode']) for r in results}
    assert got == {
        *(
            ('cls', m, b, mode)
            for m in ('dfvt_t', 'resnet_50')
            for b in (1, 2)
            for mode in ('eager', 'deploy')
            if m == 'dfvt_t' or mode == 'eager'
        ),
        *((t, m, 1, 'eager') for t in ('det', 'seg') for m in ('dfvt_t', 'resnet_50')),
    }
    counts = {(r.task, r.key): r.measured_params for r in load_models()}
    peers = {'cls': 25_557_032, 'det': 44_396_336, 'seg': 66_516_108}
    for r in results:
        assert r['shape'] == [64, 64]
        assert r['params'] == (counts[(r['task'], 'dfvt_t')] if r['ours'] else peers[r['task']])
        assert len(r['seconds']) == 1
        assert r['images_per_s'] == pytest.approx(r['batch'] / statistics.median(r['seconds']))
        if r['mode'] != 'eager':
            assert 'peak_memory' not in r and r['max_diff'] < 1e-4
            continue
        # Weights (fp32, plus buffers), the input batch, and what the call itself held.
        assert r['weight_bytes'] >= 4 * r['params']
        assert r['input_bytes'] == r['batch'] * 3 * 64 * 64 * 4
        assert 0 < r['activation_peak'] < 2048 * MB
        total = r['weight_bytes'] + r['input_bytes'] + r['activation_peak']
        assert r['peak_memory'] == total


def test_quick_run_ratios(quick_run):
    data, _, _ = quick_run
    eager = {
        (r['task'], r['batch'], r['model']): r for r in data['results'] if r['mode'] == 'eager'
    }
    paper = {(r.task, r.key): r for r in load_models() + load_models(path=peers_path())}
    assert sorted((r['task'], r['batch']) for r in data['ratios']) == [
        ('cls', 1),
        ('cls', 2),
        ('det', 1),
        ('seg', 1),
    ]
    for r in data['ratios']:
        ours, theirs = (eager[(r['task'], r['batch'], m)] for m in (r['model'], r['peer']))
        assert r['throughput_ratio'] == pytest.approx(ours['images_per_s'] / theirs['images_per_s'])
        assert r['memory_ratio'] == pytest.approx(ours['peak_memory'] / theirs['peak_memory'])
        a, b = paper[(r['task'], 'dfvt_t')], paper[(r['task'], 'resnet_50')]
        assert r['paper_throughput_ratio'] == pytest.approx(a.throughput.value / b.throughput.value)
        assert r['paper_memory_ratio'] == pytest.approx(a.memory.value / b.memory.value)
    # The paper's DFvT-T / ResNet-50 on ImageNet: 4760.1 / 879.0 images/s, 1.5 / 3.2 GB.
    cls = next(r for r in data['ratios'] if r['task'] == 'cls')
    assert cls['paper_throughput_ratio'] == pytest.approx(5.415, abs=1e-3)
    assert cls['paper_memory_ratio'] == pytest.approx(0.469, abs=1e-3)


def test_quick_run_tables(quick_run):
    data, stdout, out_dir = quick_run
    results, ratios = data['results'], data['ratios']
    table = speed_table(results, 'cls', 2, 'cpu', 'simple').splitlines()
    assert table[0].split()[:5] == ['model', 'params', '(M)', 'eager', 'fp32']
    by_key = {(r['model'], r['mode']): r for r in results if r['task'] == 'cls' and r['batch'] == 2}
    dfvt, resnet = table[2].split(), table[3].split()
    eager, deploy = by_key[('dfvt_t', 'eager')], by_key[('dfvt_t', 'deploy')]
    ratio = deploy['images_per_s'] / eager['images_per_s']
    assert dfvt == [
        'DFvT-T',
        '3.97',
        f'{eager["images_per_s"]:.2f}',
        f'{deploy["images_per_s"]:.2f}',
        f'({ratio:.2f}x)',
        f'{eager["peak_memory"] / MB:.1f}',
    ]
    assert resnet[:2] == ['ResNet-50', '25.56'] and resnet[3] == '-'  # peers: eager only
    # The printed report, the markdown file and the README block are the same tables.
    assert report(results, ratios, 'cpu') in stdout
    markdown = report(results, ratios, 'cpu', markdown=True)
    assert markdown in (out_dir / 'bench.md').read_text()
    block = readme_block((out_dir / 'README.md').read_text(), 'benchmark')
    assert block.startswith('Measured with `python tools/analysis/benchmark.py --quick')
    assert block.endswith(markdown)
    assert '-: not run' in markdown


def test_quick_run_plot(quick_run):
    data, _, out_dir = quick_run
    png = out_dir / 'speed_accuracy.png'
    assert data['plot'] == str(png)
    with Image.open(png) as image:
        assert image.format == 'PNG' and image.size == (700, 500)
        colours = {pixel[:3] for pixel in image.convert('RGB').getdata()}
    assert (214, 39, 40) in colours  # DFvT in matplotlib's tab:red
    assert (31, 119, 180) in colours  # the peer in tab:blue


def test_time_calls_order():
    """Warm-up rounds, then turns: each function's untimed settle calls right before its timed
    one, until every function has its timed calls; only the timed calls are returned."""
    log = []
    calls = {name: (lambda name=name: log.append(name)) for name in 'ab'}
    times = time_calls(calls, warmup=1, iters=2, settle=1)
    assert log == ['a', 'b'] + ['a', 'a', 'b', 'b'] * 2
    assert {name: len(t) for name, t in times.items()} == {'a': 2, 'b': 2}
    log.clear()
    time_calls(calls, warmup=0, iters=1, settle=0)
    assert log == ['a', 'b']


@pytest.mark.parametrize('mb', [1, 4, 16])
def test_cpu_peak_memory_one_tensor(mb):
    def allocate():
        torch.empty(mb * MB // 4, dtype=torch.float32).fill_(1.0)

    assert mb * MB <= cpu_peak_memory(allocate) < 2 * mb * MB


def test_cpu_peak_memory_time_order():
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

    assert 4 * MB <= cpu_peak_memory(one_after_another) < 8 * MB
    assert 12 * MB <= cpu_peak_memory(held_together) < 16 * MB
    assert 4 * MB <= cpu_peak_memory(free_outside) < 8 * MB


def test_bad_arguments(capsys):
    tool = load_tool('analysis', 'benchmark.py')
    with pytest.raises(SystemExit):
        tool.parse_args(['--models', 'dfvt_t', 'resnet_99'])
    err = capsys.readouterr().err
    assert "unknown model(s) ['resnet_99']; choose from" in err and 'mobilenetv2' in err
    with pytest.raises(SystemExit):
        tool.parse_args(['--shape', '1', '2', '3'])
    assert '--shape takes H or H W, got [1, 2, 3]' in capsys.readouterr().err


def test_results_page_has_the_benchmark_block():
    """Where `benchmark.py --readme docs/results/benchmark.md` writes its tables (the README
    links to that page)."""
    with open(osp.join(REPO_ROOT, 'docs', 'results', 'benchmark.md')) as f:
        block = readme_block(f.read(), 'benchmark')
    assert block.startswith(
        ('TODO (final run)', 'Measured with `python tools/analysis/benchmark.py')
    )
