"""Speed and memory of DFvT and the paper's peers, in every speed mode, in one process.

The models are the metafiles' (:mod:`dfvt_mm.utils.metafile`): this repository's configs and the
peers' upstream configs (``configs/metafiles/peers.yml``), built without weights
(:func:`dfvt_mm.utils.build.build_model`), in eval mode under ``torch.no_grad`` on one fixed
random batch (:func:`dfvt_mm.utils.build.dummy_batch`). What is timed:

- classification: ``model(inputs, mode='tensor')``, backbone + neck + head to the logits (what the
  paper's throughput, Swin's ``--throughput``, times);
- detection and segmentation: ``model(inputs, data_samples, mode='predict')``, the whole test
  forward with post-processing on an already normalised batch (the call mmseg's benchmark tool
  times). Random weights score no box above mmdet's 0.05, which would skip the mask head, so the
  score threshold is 0: each image keeps 100 detections, a busy image's workload.

Speed modes (:data:`MODES`), for the classifiers:

- ``eager``: the model as built, fp32;
- ``deploy``: a copy after ``backbone.switch_to_deploy()`` (DFvT folds its BatchNorms into the
  convs); n/a for backbones without it;
- ``compile``: ``torch.compile(model, dynamic=False)`` (``compile_backend``; the first calls,
  untimed, compile it);
- ``onnxruntime``: the classifier exported by :func:`dfvt_mm.deployment.export_onnx` (mmdeploy;
  the model's own weights, the graph ends in a softmax) in a CPU session
  (:class:`dfvt_mm.deployment.OnnxRuntimeModel`) with as many threads as torch; n/a on a GPU;
- ``openvino``, ``openvino-bf16``, ``openvino-int8``: the classifier exported with the OpenVINO
  deploy config, converted to IR and run by OpenVINO's CPU plugin with f32 forced, in bf16 (n/a
  on a CPU without bf16 kernels) or quantized to int8 by NNCF (:mod:`.runtimes`); int8 is
  calibrated on random batches, so with random weights it is a speed figure and its output
  difference says little: its accuracy is that of the precision table (:mod:`.precision`);
- ``amp``: autocast, bfloat16 on a CPU that computes it natively (``lscpu`` flags; elsewhere n/a:
  emulated bf16 is no speed figure) and float16 on a GPU.

Detection and segmentation run ``eager`` (and ``amp`` on a GPU). Timing
(:func:`.speed.time_calls`): for one task and batch size, every model in
every mode takes turns, call by call, over the rounds (untimed warm-up rounds first), so that a
change of the machine's load hits them alike; images/s = batch / the median call. Peak memory
(:mod:`.memory`) is measured in ``eager`` mode, in one more call.
"""

from __future__ import annotations

import copy
import os
import os.path as osp
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..utils.build import build_model, dummy_batch
from ..utils.machine import cpu_has_bf16
from ..utils.metafile import ModelRecord, load_models, matches, peers_path
from ..utils.paths import resolve
from ..utils.tasks import TASKS
from .memory import peak_memory
from .runtimes import (
    RUNTIMES,
    load_runtime,
    random_calibration,
    runtime_file,
    runtime_not_available,
)
from .speed import time_calls

MODES = ('eager', 'deploy', 'compile', *RUNTIMES, 'amp')
#: The deploy config of each backend's classifier export.
DEPLOY_CFGS = {
    'onnxruntime': 'configs/deploy/classification_onnxruntime_dynamic-batch.py',
    'openvino': 'configs/deploy/classification_openvino_dynamic-batch.py',
}
DEPLOY_CFG = DEPLOY_CFGS['onnxruntime']
#: The export takes the image as it is (no resize or crop): its size is the graph's.
EXPORT_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


@dataclass
class Settings:
    """What one benchmark run measures.

    Args:
        device: ``'cpu'`` or ``'cuda'``.
        tasks: Keys of :data:`~dfvt_mm.utils.tasks.TASKS`.
        models: Names that select models (:func:`dfvt_mm.utils.metafile.matches`); None: all.
        modes: Speed modes of DFvT's classifiers.
        peer_modes: Speed modes of the peers' classifiers.
        batch_sizes: Per task, the batch sizes (each one a separate round of timings).
        shapes: Per task, the input ``(H, W)``.
        warmup: Untimed rounds.
        iters: Timed calls per model and mode, at least.
        min_time: Timed seconds per model and mode, at least.
        compile_backend: ``torch.compile`` backend (``'inductor'``; the tests use ``'eager'``).
        work_dir: Where the ONNX exports go.
    """

    device: str = 'cpu'
    tasks: Sequence[str] = tuple(TASKS)
    models: Sequence[str] | None = None
    modes: Sequence[str] = MODES
    peer_modes: Sequence[str] = ('eager',)
    batch_sizes: dict[str, Sequence[int]] = field(default_factory=dict)
    shapes: dict[str, tuple[int, int]] = field(default_factory=dict)
    warmup: int = 2
    iters: int = 5
    min_time: float = 0.0
    compile_backend: str = 'inductor'
    work_dir: str = 'work_dirs/benchmark'


def default_settings(device: str, quick: bool = False) -> dict[str, Any]:
    """Batch sizes, shapes and rounds by device: on a GPU the paper's (ImageNet batch 64, Mask
    R-CNN 2 x 800x1280, UperNet 4 x 512x2048); on the CPU batch 1 and 16 at 224x224 and one
    image at 320x512 / 256x512; ``quick``: 64x64 everywhere, 2 timed calls, for tests."""
    if quick:
        return dict(
            batch_sizes=dict(cls=(1, 2), det=(1,), seg=(1,)),
            shapes=dict(cls=(64, 64), det=(64, 64), seg=(64, 64)),
            warmup=1,
            iters=2,
        )
    if device == 'cuda':
        return dict(
            batch_sizes=dict(cls=(64,), det=(2,), seg=(4,)),
            shapes=dict(cls=(224, 224), det=(800, 1280), seg=(512, 2048)),
            warmup=10,
            iters=50,
        )
    return dict(
        batch_sizes=dict(cls=(1, 16), det=(1,), seg=(1,)),
        shapes=dict(cls=(224, 224), det=(320, 512), seg=(256, 512)),
        warmup=2,
        iters=5,
    )


def select_models(task: str, names: Sequence[str] | None = None) -> list[tuple[ModelRecord, bool]]:
    """DFvT's models of ``task`` then the peers', as ``(record, ours)``; ``names`` selects.

    Raises:
        ValueError: A name selects no model of any task (the message lists the names).
    """
    ours = load_models(task)
    peers = load_models(task, peers_path())
    if names:
        every = load_models() + load_models(path=peers_path())
        unknown = [n for n in names if not any(matches(r, n) for r in every)]
        if unknown:
            keys = sorted({r.key for r in every})
            raise ValueError(f'unknown model(s) {unknown}; choose from {keys}')
    pairs = [(r, True) for r in ours] + [(r, False) for r in peers]
    return [(r, o) for r, o in pairs if not names or any(matches(r, n) for n in names)]


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype of mode ``amp``: float16 on a GPU, bfloat16 on a CPU with native
    bf16, None (n/a) otherwise."""
    if device.type == 'cuda':
        return torch.float16
    return torch.bfloat16 if cpu_has_bf16() else None


def export_classifier(
    record: ModelRecord,
    model: torch.nn.Module,
    shape: tuple[int, int],
    work_dir: str,
    backend: str = 'onnxruntime',
) -> str:
    """Export a classifier with ``model``'s weights to ONNX (mmdeploy, dynamic batch, ``shape``
    fixed) with ``backend``'s deploy config under ``work_dir``; returns the file."""
    from ..deployment import export_onnx  # the deploy extras, needed by these modes only

    folder = osp.join(work_dir, f'{record.name}_{shape[0]}x{shape[1]}_{backend}')
    os.makedirs(folder, exist_ok=True)
    weights = osp.join(folder, 'weights.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, weights)
    image = np.random.RandomState(0).randint(0, 256, (*shape, 3), dtype=np.uint8)
    options = {
        'test_pipeline': EXPORT_PIPELINE,
        'test_dataloader.dataset.pipeline': EXPORT_PIPELINE,
    }
    return export_onnx(
        resolve(DEPLOY_CFGS[backend]),
        record.config_path,
        weights,
        image,
        folder,
        cfg_options=options,
    )


class ModelUnderTest:
    """One model built once for a task, and its mode calls per batch.

    Args:
        record: Its metafile entry.
        ours: DFvT (all of ``settings.modes``) or a peer (``settings.peer_modes``).
        task: ``'cls'``, ``'det'`` or ``'seg'``.
        settings: The run's settings.
    """

    def __init__(self, record: ModelRecord, ours: bool, task: str, settings: Settings) -> None:
        self.record, self.ours, self.task, self.settings = record, ours, task, settings
        self.device = torch.device(settings.device)
        # See the module docstring: random weights score no box above the usual 0.05.
        options = {'model.test_cfg.rcnn.score_thr': 0.0} if task == 'det' else None
        self.model = build_model(record.config_path, options, device=self.device)
        self.params = sum(p.numel() for p in self.model.parameters())
        tensors = [*self.model.parameters(), *self.model.buffers()]
        self.weight_bytes = sum(t.numel() * t.element_size() for t in tensors)
        self._variants: dict[str, Any] = {}
        self._onnx_files: dict[tuple[str, tuple[int, int]], str] = {}
        self._runtime_files: dict[tuple[str, tuple[int, int]], str] = {}

    def modes(self) -> list[str]:
        """The modes this model runs; always eager first, the reference of the others."""
        if self.task != 'cls':
            return ['eager', 'amp'] if self.device.type == 'cuda' else ['eager']
        chosen = self.settings.modes if self.ours else self.settings.peer_modes
        return list(dict.fromkeys(['eager', *chosen]))

    def _variant(self, mode: str, shape: tuple[int, int]) -> Any:
        """The deployed copy, the compiled model or the runtime's model, made once."""
        key = mode if mode not in RUNTIMES else f'{mode}{shape}'
        if key not in self._variants:
            if mode == 'deploy':
                model = copy.deepcopy(self.model)
                model.backbone.switch_to_deploy()
                self._variants[key] = model
            elif mode == 'compile':
                self._variants[key] = torch.compile(
                    self.model, backend=self.settings.compile_backend, dynamic=False
                )
            else:
                calibration = random_calibration((3, *shape))
                path = runtime_file(mode, self._onnx_file(mode, shape), calibration)
                self._runtime_files[(mode, shape)] = path
                self._variants[key] = load_runtime(mode, path, torch.get_num_threads())
        return self._variants[key]

    def _onnx_file(self, mode: str, shape: tuple[int, int]) -> str:
        """The classifier's export for the backend of ``mode`` at ``shape``, made once."""
        backend = RUNTIMES[mode][0]
        if (backend, shape) not in self._onnx_files:
            self._onnx_files[(backend, shape)] = export_classifier(
                self.record, self.model, shape, self.settings.work_dir, backend
            )
        return self._onnx_files[(backend, shape)]

    def calls(
        self, batch: int, shape: tuple[int, int]
    ) -> tuple[dict[str, Callable[[], Any]], dict[str, str], torch.Tensor]:
        """The calls to time for one batch size, by mode; why each other mode is n/a; and the
        input batch they take."""
        inputs, samples = dummy_batch(self.model, self.task, batch, shape)
        n_a: dict[str, str] = {}
        calls: dict[str, Callable[[], Any]] = {}
        for mode in self.modes():
            reason = self._not_available(mode)
            if reason:
                n_a[mode] = reason
                continue
            call = self._call(mode, inputs, samples, shape)
            calls[mode] = self._synchronised(call)
        return calls, n_a, inputs

    def _not_available(self, mode: str) -> str | None:
        if mode == 'deploy' and not hasattr(self.model.backbone, 'switch_to_deploy'):
            return 'the backbone has no switch_to_deploy'
        if mode in RUNTIMES:
            if self.device.type != 'cpu':
                return f'{RUNTIMES[mode][0]} runs on the CPU here'
            return runtime_not_available(mode)
        if mode == 'amp' and amp_dtype(self.device) is None:
            return 'this CPU has no native bfloat16 (lscpu: no avx512_bf16 / amx_bf16)'
        return None

    def _call(self, mode: str, inputs: torch.Tensor, samples: Any, shape: tuple[int, int]):
        if mode in RUNTIMES:
            session, array = self._variant(mode, shape), inputs.cpu().numpy()
            return lambda: session(array)
        model = self._variant(mode, shape) if mode in ('deploy', 'compile') else self.model
        dtype = amp_dtype(self.device) if mode == 'amp' else None

        def forward() -> Any:
            with torch.no_grad(), torch.autocast(self.device.type, dtype, enabled=bool(dtype)):
                if samples is None:
                    return model(inputs, mode='tensor')
                # Fresh samples each call: predict() writes its results into them.
                fresh = [type(s)(metainfo=s.metainfo) for s in samples]
                return model(inputs, fresh, mode='predict')

        return forward

    def max_differences(
        self, calls: dict[str, Callable[[], Any]], inputs: torch.Tensor
    ) -> dict[str, float]:
        """Each classifier mode's largest logit difference to ``eager``, on the timed batch.
        A runtime's logits are the input of the graph's final Softmax, read from the graph
        (:func:`dfvt_mm.deployment.runtime.last_node_input`)."""
        from ..deployment.runtime import last_node_input

        reference = calls['eager']().float()
        diffs = {}
        shape = tuple(inputs.shape[2:])
        for mode, call in calls.items():
            if mode in RUNTIMES:
                logits = last_node_input(self._onnx_file(mode, shape), 'Softmax')
                path = self._runtime_files[(mode, shape)]
                session = load_runtime(mode, path, threads=1, extra_outputs=[logits])
                out = torch.from_numpy(session(inputs.numpy())[logits])
            else:
                out = call()
            diffs[mode] = (out.float().cpu() - reference.cpu()).abs().max().item()
        return diffs

    def _synchronised(self, call: Callable[[], Any]) -> Callable[[], Any]:
        if self.device.type != 'cuda':
            return call

        def synced() -> Any:
            out = call()
            torch.cuda.synchronize(self.device)
            return out

        return synced


def run_benchmark(settings: Settings, log: Callable[[str], None] = print) -> list[dict]:
    """Measure every selected model of every task, batch size and mode.

    Returns:
        One dict per (task, model, batch, mode): ``task``, ``model`` (key), ``label``,
        ``name``, ``ours``, ``batch``, ``shape``, ``mode``, ``params``; timed modes add
        ``images_per_s``, ``seconds`` (each timed call) and, for classifiers, ``max_diff`` (to
        eager); n/a modes add ``n_a`` (why); eager adds ``peak_memory``, ``weight_bytes``,
        ``input_bytes`` and ``activation_peak`` (bytes).
    """
    device = torch.device(settings.device)
    results = []
    for task in settings.tasks:
        models = [
            ModelUnderTest(r, o, task, settings) for r, o in select_models(task, settings.models)
        ]
        if not models:
            continue
        shape = tuple(settings.shapes[task])
        for batch in settings.batch_sizes[task]:
            group: dict[tuple[str, str], Callable[[], Any]] = {}
            rows: dict[tuple[str, str], dict] = {}
            for m in models:
                calls, n_a, inputs = m.calls(batch, shape)
                diffs = m.max_differences(calls, inputs) if task == 'cls' else {}
                for mode in m.modes():
                    row = dict(
                        task=task,
                        model=m.record.key,
                        label=m.record.backbone,
                        name=m.record.name,
                        ours=m.ours,
                        batch=batch,
                        shape=list(shape),
                        mode=mode,
                        params=m.params,
                    )
                    if mode in n_a:
                        row['n_a'] = n_a[mode]
                    else:
                        group[(m.record.key, mode)] = calls[mode]
                        if mode in diffs:
                            row['max_diff'] = diffs[mode]
                    rows[(m.record.key, mode)] = row
                memory = peak_memory(calls['eager'], device)
                cpu_total = m.weight_bytes + inputs.nbytes + memory['activation_peak']
                rows[(m.record.key, 'eager')].update(
                    peak_memory=memory.get('peak', cpu_total),
                    weight_bytes=m.weight_bytes,
                    input_bytes=inputs.nbytes,
                    activation_peak=memory['activation_peak'],
                )
            log(f'[{task} batch {batch}] timing {len(group)} calls in turn')
            times = time_calls(group, settings.warmup, settings.iters, settings.min_time)
            for key, seconds in times.items():
                rows[key].update(seconds=seconds, images_per_s=batch / statistics.median(seconds))
                log(f'  {rows[key]["label"]} {key[1]}: {rows[key]["images_per_s"]:.2f} images/s')
            results += rows.values()
    return results


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def mode_ratios(results: Sequence[dict]) -> dict[tuple[str, str, int, str], float]:
    """Images/s of each timed mode over eager's, by (task, model, batch, mode)."""
    eager = {(r['task'], r['model'], r['batch']): r for r in results if r['mode'] == 'eager'}
    return {
        (r['task'], r['model'], r['batch'], r['mode']): r['images_per_s']
        / eager[(r['task'], r['model'], r['batch'])]['images_per_s']
        for r in results
        if 'images_per_s' in r and r['mode'] != 'eager'
    }


def peer_ratios(results: Sequence[dict], records: Sequence[ModelRecord]) -> list[dict]:
    """DFvT / peer, eager, at each task and batch: measured images/s and peak memory ratios, and
    the paper's (``None`` where it has no number; ``paper_notes`` says how a number was read)."""
    paper = {(r.task, r.key): r for r in records}
    eager = [r for r in results if r['mode'] == 'eager' and 'images_per_s' in r]
    rows = []
    for ours in (r for r in eager if r['ours']):
        for peer in eager:
            same = (peer['task'], peer['batch']) == (ours['task'], ours['batch'])
            if peer['ours'] or not same:
                continue
            a, b = (
                paper.get((ours['task'], ours['model'])),
                paper.get((peer['task'], peer['model'])),
            )
            speed = [x.throughput if x else None for x in (a, b)]
            memory = [x.memory if x else None for x in (a, b)]
            rows.append(
                dict(
                    task=ours['task'],
                    batch=ours['batch'],
                    model=ours['model'],
                    peer=peer['model'],
                    label=f'{ours["label"]} / {peer["label"]}',
                    throughput_ratio=ours['images_per_s'] / peer['images_per_s'],
                    memory_ratio=ours['peak_memory'] / peer['peak_memory'],
                    paper_throughput_ratio=_ratio(*[s.value if s else None for s in speed]),
                    paper_memory_ratio=_ratio(*[s.value if s else None for s in memory]),
                    paper_notes=[s.note for s in speed if s and s.note],
                )
            )
    return rows
