"""Throughput and peak memory of DFvT and its peers, all in one process: the efficiency columns of
the paper's Table 1 (ImageNet) and of its supplementary Tables 2 (Mask R-CNN) and 3 (UperNet).

Every model is built from a config through its own package's registry (DFvT from ``configs/``,
the peers from mmpretrain's, mmdet's and mmseg's installed configs). No weights are loaded:
``Pretrained`` ``init_cfg`` entries and ``pretrained`` keys are removed and ``init_weights`` is
never called, so the models keep PyTorch's default initialisation, which does not change their
speed (detection is the exception, see below). SyncBN becomes BN, as this is one process.

What is timed (eval mode, ``torch.no_grad``, one fixed random batch already on the device):

- classification: ``model(inputs, mode='tensor')``, backbone + neck + head to the logits, which is
  what the paper's throughput (Swin's ``main.py --throughput``) times;
- detection and segmentation: ``model(inputs, data_samples, mode='predict')``, the whole test
  forward with its post-processing (box NMS and mask pasting; logits resized to the image), on a
  batch the model's data preprocessor has already normalised and padded. mmseg's
  ``tools/analysis_tools/benchmark.py`` times exactly this call; mmdet's ``InferenceBenchmark``
  times ``test_step``, which also runs the data preprocessor. With random weights no box scores
  above mmdet's 0.05 threshold and the mask head would never run, so the threshold is set to 0:
  each image keeps ``max_per_img`` (100) detections, the workload of a trained model on a busy
  image.

Throughput: ``--warmup`` untimed iterations, then iterations timed one by one (CUDA synchronised
after each, as mmseg's tool does) until both ``--iters`` iterations and ``--min-time`` seconds are
done; images/s = batch size / the median iteration's seconds. The median rather than the mean
because a shared machine's other work slows some iterations several-fold (seen here on 2 busy CPU
cores); ``benchmark.json`` also keeps every iteration's time and the mean-based figure.

Peak memory, from one more forward pass at the same batch:

- CUDA: ``torch.cuda.max_memory_allocated()`` after ``torch.cuda.reset_peak_memory_stats()``:
  weights, input and the most the pass holds at once;
- CPU: weights + input + the peak of the pass over its start, from ``torch.profiler`` with
  ``profile_memory=True``: the allocator's events (+bytes allocated, -bytes freed) summed in time
  order, the maximum of that running sum (:func:`cpu_peak_memory`). It sees every tensor and
  operator workspace that goes through PyTorch's CPU allocator, not memory a library allocates on
  its own (e.g. oneDNN's primitive caches) nor Python objects.

On a GPU every model runs in fp32 and with autocast (``--amp``, fp16 by default); on the CPU in fp32
only, unless ``--amp bf16`` is given. The paper's numbers are fp32 ("we don't adopt the mixed
precision"), measured on a 2080 Ti: classification memory at batch 64 and throughput at the largest
batch that fits, Mask R-CNN at batch 2, UperNet at batch 4.

Defaults (CPU values keep a full run to a few minutes on two cores; the GPU values are the paper's
batch sizes and its FLOPs input sizes):

=========  ====================  ==================
task       CUDA                  CPU
=========  ====================  ==================
cls        batch 64, 224x224     batch 8, 224x224
det        batch 2, 800x1280     batch 1, 320x512
seg        batch 4, 512x2048     batch 1, 256x512
timing     warm-up 10, iters 50  warm-up 1, iters 3
threads    -                     1
=========  ====================  ==================

One CPU thread by default: on a machine shared with other work, every operator split over all
cores waits for the slowest, descheduled one, which slowed small models up to 50-fold in our
runs on 2 busy cores; one thread gives steady per-core figures, whose ratios are what this tool
reports. ``--threads 0`` uses torch's default (one per core) on a dedicated machine.

The tables give, per task and precision, parameters, images/s and peak memory of each model, then
for each DFvT size its ratios to every peer (images/s DFvT / peer: above 1 is faster; memory
DFvT / peer: below 1 is lighter) beside the same ratios from the paper's tables ('-' where the
paper has no number). ``--out-dir`` receives ``benchmark.json`` (settings, measurements, ratios, the
paper's numbers) and ``speed_accuracy.png``: measured fp32 images/s against the paper's ImageNet
top-1, one labelled point per classification model, DFvT as a line through T/S/B (the paper's
Fig. 1).

Example:
    python tools/analysis/benchmark.py --tasks cls --models dfvt_t mobilenet_v2 resnet18
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import os.path as osp
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import torch
from mmengine.config import ConfigDict
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import MODELS, DefaultScope, init_default_scope
from mmengine.utils import get_installed_path
from torch.profiler import ProfilerActivity, profile

from dfvt_mm.utils.launch import load_config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TASKS = ('cls', 'det', 'seg')
TASK_TITLES = {
    'cls': 'ImageNet classification',
    'det': 'Mask R-CNN + FPN (COCO)',
    'seg': 'UperNet (ADE20K)',
}
DFVT = ('dfvt_t', 'dfvt_s', 'dfvt_b')


@dataclass(frozen=True)
class ModelSpec:
    """One model to measure.

    Args:
        task: ``'cls'``, ``'det'`` or ``'seg'``.
        name: The backbone's name, the same in every task (what ``--models`` selects).
        label: The name the tables and the plot show.
        config: A config in this repository (relative to its root) or an upstream one
            (``'mmdet::...'``).
    """

    task: str
    name: str
    label: str
    config: str


def _specs() -> dict[str, dict[str, ModelSpec]]:
    cls = {
        'dfvt_t': ('DFvT-T', 'configs/dfvt_t_in1k.py'),
        'dfvt_s': ('DFvT-S', 'configs/dfvt_s_in1k.py'),
        'dfvt_b': ('DFvT-B', 'configs/dfvt_b_in1k.py'),
        'mobilenet_v2': ('MobileNetV2', 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py'),
        'resnet18': ('ResNet-18', 'mmpretrain::resnet/resnet18_8xb32_in1k.py'),
        'resnet50': ('ResNet-50', 'mmpretrain::resnet/resnet50_8xb32_in1k.py'),
        'resnet101': ('ResNet-101', 'mmpretrain::resnet/resnet101_8xb32_in1k.py'),
        'swin_t': ('Swin-T', 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'),
        'deit_s': ('DeiT-S', 'mmpretrain::deit/deit-small_4xb256_in1k.py'),
    }
    det = {
        'dfvt_t': ('DFvT-T', 'configs/mask_rcnn_dfvt_t_coco.py'),
        'dfvt_s': ('DFvT-S', 'configs/mask_rcnn_dfvt_s_coco.py'),
        'dfvt_b': ('DFvT-B', 'configs/mask_rcnn_dfvt_b_coco.py'),
        'resnet50': ('ResNet-50', 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
        'swin_t': ('Swin-T', 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'),
    }
    seg = {
        'dfvt_t': ('DFvT-T', 'configs/upernet_dfvt_t_ade20k.py'),
        'dfvt_s': ('DFvT-S', 'configs/upernet_dfvt_s_ade20k.py'),
        'dfvt_b': ('DFvT-B', 'configs/upernet_dfvt_b_ade20k.py'),
        'resnet50': ('ResNet-50', 'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'),
        'swin_t': (
            'Swin-T',
            'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
        ),
    }
    return {
        task: {name: ModelSpec(task, name, label, cfg) for name, (label, cfg) in table.items()}
        for task, table in (('cls', cls), ('det', det), ('seg', seg))
    }


MODEL_SPECS = _specs()
MODEL_NAMES = tuple(dict.fromkeys(name for table in MODEL_SPECS.values() for name in table))

# The paper's numbers, copied from its tables (2080 Ti, fp32). Memory in GB; None where the paper
# has no number.
# Main text, Table 1 (ImageNet-1K val, 224x224): params (M), FLOPs (G), memory (GB, batch 64),
# throughput (images/s, largest batch), top-1 (%).
PAPER_CLS: dict[str, dict[str, Optional[float]]] = {
    'mobilenet_v2': dict(params=3.5, flops=0.3, memory=4.4, throughput=2780.6, top1=72.0),
    'resnet18': dict(params=11.7, flops=1.8, memory=1.0, throughput=2506.4, top1=69.8),
    'resnet50': dict(params=25.6, flops=4.1, memory=3.2, throughput=879.0, top1=76.2),
    'resnet101': dict(params=44.5, flops=7.8, memory=4.7, throughput=502.6, top1=77.4),
    'deit_s': dict(params=22.1, flops=4.3, memory=4.8, throughput=786.6, top1=79.8),
    'swin_t': dict(params=28.3, flops=4.5, memory=8.0, throughput=536.8, top1=81.3),
    'dfvt_t': dict(params=4.0, flops=0.3, memory=1.5, throughput=4760.1, top1=73.0),
    'dfvt_s': dict(params=11.2, flops=0.8, memory=2.8, throughput=2202.3, top1=78.3),
    # The text of this row reads "DFvT-B 994 37.3 25 5 5 062.8 82.0": decimal points and the
    # throughput's leading digit are lost. 2.5 G FLOPs and 5.5 GB follow the other rows' format;
    # 1062.8 images/s is the reading that fits between Swin-T (4.5 G, 536.8) and DFvT-S (0.8 G,
    # 2202.3). PAPER_NOTES flags it in every table that uses it.
    'dfvt_b': dict(params=37.3, flops=2.5, memory=5.5, throughput=1062.8, top1=82.0),
}
# Supplementary, Table 2 (Mask R-CNN 1x on COCO 2017; batch 2; FLOPs at 1280x800): params (M),
# FLOPs (G), FPS, memory (GB), box AP, mask AP.
PAPER_DET: dict[str, dict[str, Optional[float]]] = {
    'dfvt_t': dict(params=25, flops=178, throughput=39.3, memory=2.0, ap_box=32.9, ap_mask=30.7),
    'dfvt_s': dict(params=32, flops=198, throughput=31.5, memory=2.5, ap_box=38.0, ap_mask=35.4),
    'resnet50': dict(params=44, flops=260, throughput=22.6, memory=4.0, ap_box=37.8, ap_mask=34.2),
    'swin_t': dict(params=48, flops=267, throughput=16.0, memory=5.9, ap_box=43.7, ap_mask=39.8),
    'dfvt_b': dict(params=58, flops=242, throughput=22.7, memory=3.9, ap_box=43.1, ap_mask=39.2),
}
# Supplementary, Table 3 (UperNet on ADE20K; batch 4; FLOPs at 2048x512): params (M), FLOPs (G),
# FPS, memory (GB), val mIoU.
PAPER_SEG: dict[str, dict[str, Optional[float]]] = {
    'dfvt_t': dict(params=34, flops=849, throughput=9.0, memory=7.7, miou=36.1),
    'dfvt_s': dict(params=44, flops=874, throughput=8.6, memory=8.1, miou=40.7),
    'resnet50': dict(params=67, flops=952, throughput=7.6, memory=8.3, miou=40.4),
    'swin_t': dict(params=60, flops=945, throughput=6.7, memory=9.5, miou=44.5),
    'dfvt_b': dict(params=72, flops=925, throughput=7.7, memory=9.4, miou=44.7),
}
PAPER = {'cls': PAPER_CLS, 'det': PAPER_DET, 'seg': PAPER_SEG}
PAPER_NOTES = {
    ('cls', 'dfvt_b', 'throughput'): 'DFvT-B images/s in Table 1 is illegible ("062.8"); '
    'read as 1062.8',
}

DEFAULTS = {
    'cuda': dict(
        batch=dict(cls=64, det=2, seg=4),
        shape=dict(cls=(224, 224), det=(800, 1280), seg=(512, 2048)),
        warmup=10,
        iters=50,
        amp='fp16',
    ),
    'cpu': dict(
        batch=dict(cls=8, det=1, seg=1),
        shape=dict(cls=(224, 224), det=(320, 512), seg=(256, 512)),
        warmup=1,
        iters=3,
        amp='none',
    ),
}
PLOT_SIZE, PLOT_DPI = (7, 5), 100  # inches, dots per inch: a 700x500 picture
AMP_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}


def resolve_config(path: str) -> str:
    """The file of a config: ``'pkg::rel/path.py'`` in the installed package's ``.mim/configs``,
    anything else relative to this repository's root."""
    if '::' in path:
        scope, rel = path.split('::', 1)
        return osp.join(get_installed_path(MODULE2PACKAGE[scope]), '.mim', 'configs', rel)
    return path if osp.isabs(path) else osp.join(REPO_ROOT, path)


def strip_pretrained(node: Any) -> Any:
    """A copy of a model config without ``pretrained`` keys or ``Pretrained`` initialisers.

    Building never loads weights; ``init_weights`` would, from files or URLs this benchmark must not
    need. Removing them keeps every path here download-free even if something calls it.
    """
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == 'pretrained':
                out[key] = None
            elif key == 'init_cfg' and _is_pretrained_init(value):
                out[key] = None
            elif key == 'init_cfg' and isinstance(value, (list, tuple)):
                out[key] = [v for v in value if not _is_pretrained_init(v)] or None
            else:
                out[key] = strip_pretrained(value)
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(strip_pretrained(v) for v in node)
    return node


def _is_pretrained_init(value: Any) -> bool:
    return isinstance(value, dict) and value.get('type') == 'Pretrained'


def build_model(spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    """Build ``spec``'s model in its package's default scope, without weights, in eval mode."""
    cfg, scope = load_config(resolve_config(spec.config))
    # mmdet reads sub-configs as attributes (``train_cfg.rpn``): a ConfigDict, not a dict.
    model_cfg = ConfigDict(strip_pretrained(cfg.model.to_dict()))
    if spec.task == 'det':
        # See the module docstring: random weights score no box above the usual 0.05.
        model_cfg.test_cfg.rcnn.score_thr = 0.0
    init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    return revert_sync_batchnorm(model).to(device).eval()


def make_forward(
    model: torch.nn.Module, task: str, batch: int, shape: tuple[int, int], device: torch.device
) -> tuple[Callable[[], Any], int]:
    """The call to time, on a fixed random batch, and the bytes of that batch."""
    H, W = shape
    if task == 'cls':
        inputs = torch.randn(batch, 3, H, W, device=device)
        return (lambda: model(inputs, mode='tensor')), inputs.nbytes
    if task == 'det':
        from mmdet.structures import DetDataSample as Sample
    else:
        from mmseg.structures import SegDataSample as Sample
    meta = dict(img_shape=(H, W), ori_shape=(H, W), pad_shape=(H, W), scale_factor=(1.0, 1.0))
    images = [torch.randint(0, 256, (3, H, W), dtype=torch.uint8) for _ in range(batch)]
    data = model.data_preprocessor(
        dict(inputs=images, data_samples=[Sample(metainfo=meta) for _ in range(batch)])
    )
    inputs = data['inputs']
    metas = [sample.metainfo for sample in data['data_samples']]

    def forward() -> Any:
        # Fresh samples each call: predict() writes its results into them, and holding the last
        # call's results would count them in the next call's memory.
        samples = [Sample(metainfo=m) for m in metas]
        return model(inputs, samples, mode='predict')

    return forward, inputs.nbytes


def cpu_peak_memory(fn: Callable[[], Any]) -> int:
    """The most bytes ``fn`` holds at once in PyTorch's CPU allocator, over what it started with.

    ``torch.profiler`` (``profile_memory=True``) records one event per allocation (+bytes) and per
    free (-bytes); their running sum in time order is the memory in use since the start, and its
    maximum the peak. Memory freed during ``fn`` but allocated before shows as negative and so
    cannot raise the peak. Results ``fn`` returns count until they are dropped here.
    """
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [
        (event.start_ns(), event.nbytes())
        for event in prof.profiler.kineto_results.events()
        if event.name() == '[memory]' and event.device_type() == torch.autograd.DeviceType.CPU
    ]
    in_use = peak = 0
    for _, nbytes in sorted(events):
        in_use += nbytes
        peak = max(peak, in_use)
    return peak


def time_forward(
    fn: Callable[[], Any], device: torch.device, warmup: int, iters: int, min_time: float
) -> list[float]:
    """Run ``fn`` ``warmup`` times, then time it call by call until both ``iters`` calls and
    ``min_time`` seconds are done; returns the seconds of each timed call."""

    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times: list[float] = []
    while len(times) < iters or sum(times) < min_time:
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def measure(
    spec: ModelSpec,
    device: torch.device,
    precision: str,
    batch: int,
    shape: tuple[int, int],
    warmup: int,
    iters: int,
    min_time: float,
) -> dict:
    """Params, images/s and peak memory of one model at one precision."""
    model = build_model(spec, device)
    tensors = [*model.parameters(), *model.buffers()]
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(t.numel() * t.element_size() for t in tensors)
    forward, input_bytes = make_forward(model, spec.task, batch, shape, device)
    autocast = torch.autocast(
        device.type, dtype=AMP_DTYPES.get(precision), enabled=precision != 'fp32'
    )
    with torch.no_grad(), autocast:
        times = time_forward(forward, device, warmup, iters, min_time)
        gc.collect()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
            base = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
            forward()
            torch.cuda.synchronize(device)
            peak = torch.cuda.max_memory_allocated(device)
            activation_peak = peak - base
        else:
            activation_peak = cpu_peak_memory(forward)
            peak = weight_bytes + input_bytes + activation_peak
    del model, forward
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return dict(
        task=spec.task,
        model=spec.name,
        label=spec.label,
        config=spec.config,
        precision=precision,
        batch_size=batch,
        shape=list(shape),
        params=params,
        iters=len(times),
        seconds=sum(times),
        iter_times=times,
        # The median call: what a machine busy with other work disturbs least.
        throughput=batch / statistics.median(times),
        throughput_mean=batch * len(times) / sum(times),
        peak_memory=peak,
        weight_bytes=weight_bytes,
        input_bytes=input_bytes,
        activation_peak=activation_peak,
    )


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None else a / b


def compute_ratios(results: Sequence[dict]) -> list[dict]:
    """For each DFvT size and each peer of the same task and precision: measured DFvT / peer
    ratios of images/s and of peak memory, and the same ratios from the paper's numbers."""
    rows = []
    by_key = {(r['task'], r['precision'], r['model']): r for r in results}
    for (task, precision, name), ours in by_key.items():
        if name not in DFVT:
            continue
        for (task_p, precision_p, peer), theirs in by_key.items():
            if (task_p, precision_p) != (task, precision) or peer in DFVT:
                continue
            paper_ours, paper_peer = PAPER[task].get(name, {}), PAPER[task].get(peer, {})
            notes = [
                PAPER_NOTES[(task, model, 'throughput')]
                for model in (name, peer)
                if (task, model, 'throughput') in PAPER_NOTES
            ]
            rows.append(
                dict(
                    task=task,
                    precision=precision,
                    model=name,
                    peer=peer,
                    throughput_ratio=ours['throughput'] / theirs['throughput'],
                    paper_throughput_ratio=_ratio(
                        paper_ours.get('throughput'), paper_peer.get('throughput')
                    ),
                    memory_ratio=ours['peak_memory'] / theirs['peak_memory'],
                    paper_memory_ratio=_ratio(paper_ours.get('memory'), paper_peer.get('memory')),
                    paper_notes=notes,
                )
            )
    return rows


def fmt_ratio(value: Optional[float]) -> str:
    """A ratio as the tables print it ('-' where there is none)."""
    return '-' if value is None else f'{value:.2f}'


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return '  '.join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        )

    return '\n'.join([line(headers), '  '.join('-' * w for w in widths), *map(line, rows)])


def report(results: Sequence[dict], ratios: Sequence[dict]) -> str:
    """The printed tables: measurements, then ratios beside the paper's, per task and precision."""
    blocks = []
    for task in TASKS:
        for precision in dict.fromkeys(r['precision'] for r in results if r['task'] == task):
            rows = [r for r in results if r['task'] == task and r['precision'] == precision]
            first = rows[0]
            shape = 'x'.join(map(str, first['shape']))
            title = f'{TASK_TITLES[task]}, {precision}, batch {first["batch_size"]}, {shape}'
            blocks.append(
                f'{title}\n'
                + format_table(
                    ['model', 'params (M)', 'images/s', 'peak memory (MiB)'],
                    [
                        [
                            r['label'],
                            f'{r["params"] / 1e6:.2f}',
                            f'{r["throughput"]:.2f}',
                            f'{r["peak_memory"] / 2**20:.1f}',
                        ]
                        for r in rows
                    ],
                )
            )
            labels = {r['model']: r['label'] for r in rows}
            selected = [r for r in ratios if r['task'] == task and r['precision'] == precision]
            if not selected:
                continue
            table = format_table(
                ['DFvT / peer', 'images/s', 'paper', 'memory', 'paper'],
                [
                    [
                        f'{labels[r["model"]]} / {labels[r["peer"]]}'
                        + ('*' if r['paper_notes'] else ''),
                        fmt_ratio(r['throughput_ratio']),
                        fmt_ratio(r['paper_throughput_ratio']),
                        fmt_ratio(r['memory_ratio']),
                        fmt_ratio(r['paper_memory_ratio']),
                    ]
                    for r in selected
                ],
            )
            notes = sorted({n for r in selected for n in r['paper_notes']})
            blocks.append(
                f'{title}: DFvT / peer, measured and paper (fp32, 2080 Ti); images/s > 1: '
                'faster, memory < 1: lighter\n' + table + ''.join(f'\n* {n}' for n in notes)
            )
    return '\n\n'.join(blocks)


def plot_speed_accuracy(results: Sequence[dict], path: str, title: str) -> bool:
    """Measured fp32 images/s against the paper's top-1, as the paper's Fig. 1. Returns whether
    there was anything to plot (classification results)."""
    import matplotlib

    matplotlib.use('Agg')  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    points = [r for r in results if r['task'] == 'cls' and r['precision'] == 'fp32']
    if not points:
        return False
    fig, ax = plt.subplots(figsize=PLOT_SIZE, dpi=PLOT_DPI)
    peers = [r for r in points if r['model'] not in DFVT]
    if peers:
        ax.scatter(
            [r['throughput'] for r in peers],
            [PAPER_CLS[r['model']]['top1'] for r in peers],
            s=45,
            color='tab:blue',
            label='peers (mmpretrain)',
            zorder=2,
        )
    for r in peers:
        top1 = PAPER_CLS[r['model']]['top1']
        ax.annotate(r['label'], (r['throughput'], top1), xytext=(6, -4), textcoords='offset points')
    dfvt = [r for name in DFVT for r in points if r['model'] == name]
    if dfvt:
        xs = [r['throughput'] for r in dfvt]
        ys = [PAPER_CLS[r['model']]['top1'] for r in dfvt]
        ax.plot(xs, ys, '-*', color='tab:red', markersize=16, lw=2, label='DFvT', zorder=3)
        for r, x, y in zip(dfvt, xs, ys):
            ax.annotate(
                r['label'],
                (x, y),
                xytext=(8, 5),
                textcoords='offset points',
                color='tab:red',
                fontweight='bold',
            )
    ax.set_xscale('log')  # the models span an order of magnitude in speed
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.25, y=0.12)  # room for the labels right of the outermost points
    ax.set_xlabel('measured throughput (images/s, log scale)')
    ax.set_ylabel('ImageNet-1K top-1 (%), from the paper (Table 1)')
    ax.set_title(title, fontsize=10)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(loc='best')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def describe_device(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name and core count."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            models = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        name = models[0] if models else name
    return f'{name} CPU, {os.cpu_count()} cores'


def _shape(values: Optional[Sequence[int]]) -> Optional[tuple[int, int]]:
    if values is None:
        return None
    if len(values) not in (1, 2):
        raise argparse.ArgumentTypeError('a shape is H or H W')
    return (values[0], values[-1])


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('--tasks', nargs='+', choices=TASKS, default=list(TASKS))
    parser.add_argument(
        '--models',
        nargs='+',
        metavar='NAME',
        help=f'backbones to run in each selected task that has them (default all): '
        f'{", ".join(MODEL_NAMES)}',
    )
    parser.add_argument('--device', help='default: cuda if available, else cpu')
    parser.add_argument(
        '--amp',
        choices=['none', *AMP_DTYPES],
        help='autocast dtype measured besides fp32 (default: fp16 on cuda, none on cpu)',
    )
    for task, flag in (('cls', ''), ('det', 'det-'), ('seg', 'seg-')):
        parser.add_argument(f'--{flag}batch-size', type=int, help=f'{task} batch size')
        parser.add_argument(
            f'--{flag}shape', type=int, nargs='+', metavar='SIZE', help=f'{task} input: H or H W'
        )
    parser.add_argument('--warmup', type=int, help='untimed iterations per model')
    parser.add_argument('--iters', type=int, help='minimum timed iterations per model')
    parser.add_argument(
        '--min-time', type=float, default=0.0, help='minimum timed seconds per model'
    )
    parser.add_argument(
        '--threads',
        type=int,
        help="CPU threads (default on CPU: 1, see above; 0: torch's default, one per core)",
    )
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    args = parser.parse_args(argv)
    if args.models:
        unknown = [m for m in args.models if m not in MODEL_NAMES]
        if unknown:
            parser.error(f'unknown model(s) {unknown}; choose from {list(MODEL_NAMES)}')
        missing = [m for m in args.models if not any(m in MODEL_SPECS[t] for t in args.tasks)]
        if missing:
            parser.error(f'model(s) {missing} are in none of the tasks {args.tasks}')
    try:
        for flag in ('shape', 'det_shape', 'seg_shape'):
            setattr(args, flag, _shape(getattr(args, flag)))
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    # Kineto logs every profiler start and stop (and, without a GPU, a device-count error) at
    # its default level; the memory measurement starts one per model.
    os.environ.setdefault('KINETO_LOG_LEVEL', '99')
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    threads = args.threads if args.threads is not None else (1 if device.type == 'cpu' else 0)
    if threads:
        torch.set_num_threads(threads)
    defaults = DEFAULTS['cuda' if device.type == 'cuda' else 'cpu']
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # one fixed input shape per model
    amp = args.amp or defaults['amp']
    precisions = ['fp32'] + ([] if amp == 'none' else [amp])
    batch = dict(cls=args.batch_size, det=args.det_batch_size, seg=args.seg_batch_size)
    shape = dict(cls=args.shape, det=args.det_shape, seg=args.seg_shape)
    batch = {t: b or defaults['batch'][t] for t, b in batch.items()}
    shape = {t: s or defaults['shape'][t] for t, s in shape.items()}
    warmup = defaults['warmup'] if args.warmup is None else args.warmup
    iters = args.iters or defaults['iters']

    results = []
    for task in args.tasks:
        names = [n for n in MODEL_SPECS[task] if not args.models or n in args.models]
        for name in names:
            for precision in precisions:
                r = measure(
                    MODEL_SPECS[task][name],
                    device,
                    precision,
                    batch[task],
                    shape[task],
                    warmup,
                    iters,
                    args.min_time,
                )
                print(
                    f'[{task} {precision}] {r["label"]}: {r["throughput"]:.2f} images/s, '
                    f'peak {r["peak_memory"] / 2**20:.1f} MiB ({r["iters"]} iterations, '
                    f'{r["seconds"]:.1f} s)',
                    flush=True,
                )
                results.append(r)
    ratios = compute_ratios(results)
    device_name = describe_device(device)
    threads = torch.get_num_threads()
    if device.type == 'cpu':
        device_name += f', {threads} thread' + ('s' if threads > 1 else '')
    print(f'\nDevice: {device_name}, torch {torch.__version__}')
    print('\n' + report(results, ratios))

    os.makedirs(args.out_dir, exist_ok=True)
    png = osp.join(args.out_dir, 'speed_accuracy.png')
    plot_title = f'{device_name}, fp32, batch {batch["cls"]}, {shape["cls"][0]}x{shape["cls"][1]}'
    if not plot_speed_accuracy(results, png, plot_title):
        png = None
    out = dict(
        settings=dict(
            device=device.type,
            device_name=device_name,
            threads=threads,
            # Other work on the machine slows CPU timings; the 1-minute load average tells.
            load_average=os.getloadavg() if hasattr(os, 'getloadavg') else None,
            torch=torch.__version__,
            precisions=precisions,
            batch_size=batch,
            shape={t: list(s) for t, s in shape.items()},
            warmup=warmup,
            iters=iters,
            min_time=args.min_time,
            tasks=list(args.tasks),
            models=args.models,
        ),
        results=results,
        ratios=ratios,
        paper=dict(cls=PAPER_CLS, det=PAPER_DET, seg=PAPER_SEG),
        paper_notes={'/'.join(k): v for k, v in PAPER_NOTES.items()},
        plot=png,
    )
    json_path = osp.join(args.out_dir, 'benchmark.json')
    with open(json_path, 'w') as f:
        json.dump(out, f, indent=2)
    print(f'\nWrote {json_path}' + (f' and {png}' if png else ' (no classification: no plot)'))


if __name__ == '__main__':
    main()
