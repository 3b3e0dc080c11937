"""What mmdeploy 1.3.1 (the last release, 2023) needs to export DFvT models with torch 2.13 and
run them in OpenVINO 2026.

Six gaps, each seen here, each closed as narrowly as it can be:

1. ``torch.onnx.export`` defaults to ``dynamo=True`` since torch 2.9. mmdeploy's export call passes
   no ``dynamo`` and relies on the TorchScript exporter: its function rewriters patch the model's
   code while it is *traced*, and its symbolic rewriters register TorchScript symbolics. Under the
   dynamo default its call fails in ``torch.export`` ("mismatch between the structure of inputs
   and dynamic_shapes"). :func:`torchscript_onnx_export` makes calls without ``dynamo`` use the
   TorchScript exporter, only while it is active (a caller's explicit ``dynamo`` is kept).
2. mmdeploy's RoIAlign symbolic (Mask R-CNN) imports ``_cast_Long`` from
   ``torch.onnx.symbolic_opset9``, a helper torch has since removed; the same context manager
   provides it (a cast to int64, what the helper did) and removes it again on exit.
3. mmdeploy replaces ``adaptive_avg_pool2d`` by ``avg_pool2d`` with kernel = stride =
   ``floor(size / output)``: equal only where the output size divides the input size. UperNet's
   pyramid pooling (scales 1, 2, 3, 6) on DFvT's stride-32 map rarely divides it (a 16x16 map
   pooled to 3x3 averages other pixels; a 3x3 map pooled to 6x6 fails with a zero stride). The
   rewriter below computes adaptive pooling's own bins instead; mmdeploy prefers a rewriter
   registered for the backend over its default one, so it applies to onnxruntime and OpenVINO
   exports only. In an export with dynamic height and width the bins cannot be Python numbers of
   the export size: there the rewriter averages each side with a matrix of the same bins made
   from the traced size (:func:`adaptive_avg_pool2d_traceable`).

4. mmdeploy's function rewriters restore a rewritten method on exit by assigning the plain
   function back to the class, so a ``staticmethod`` or ``classmethod`` it rewrote comes back as
   an instance method: after any export in a process, mmpretrain's Swin fails in
   ``ShiftWindowMSA.get_attn_mask`` ("got multiple values for argument 'window_size'"; seen
   when the benchmark timed Swin-T after exporting DFvT). :func:`keep_rewritten_descriptors`
   (entered by :func:`torchscript_onnx_export` and by the checks) puts them back.

5. mmdeploy's OpenVINO backend was written for OpenVINO 2022: its conversion runs the Model
   Optimizer command (``mo``) and its wrapper uses ``openvino.inference_engine.IECore``, both
   removed from OpenVINO (2025.0 and 2024.0), and its wrapper takes batch 1 only. Its export
   rewriters, task processors and backend models (``End2EndModel``) run as they are. The
   conversion is :func:`dfvt_mm.deployment.to_openvino` (``openvino.convert_model``), and
   :func:`openvino_wrapper` makes mmdeploy's OpenVINO backend manager build
   :class:`OpenVINOWrapper` (OpenVINO's current API, any batch) while it is active.

6. mmdeploy's OpenVINO rewrite of mmdet's ``SingleRoIExtractor`` exports RoI extraction as
   OpenVINO's ``ExperimentalDetectronROIFeatureExtractor``, which takes one image only: its
   feature maps must have batch 1, and it drops the RoIs' image index. At batch 2 OpenVINO
   refuses the graph ("The first dimension of each pyramid element must be equal to 1"), so a
   dynamic-batch Mask R-CNN export did not run. :func:`drop_openvino_roi_extractor` (entered
   with the rewriters, see 4) removes that rewrite, and OpenVINO exports get mmdeploy's default
   one, as onnxruntime exports do: per level an ONNX ``RoiAlign`` with the RoIs' image index,
   which OpenVINO runs at any batch.

Importing this module registers the rewriter (for onnxruntime and OpenVINO exports); nothing else
changes until :func:`torchscript_onnx_export` or :func:`openvino_wrapper` is entered
(``dfvt_mm.deployment.export_onnx``, the checks and the accuracy check do).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
import torch.onnx.symbolic_opset9 as symbolic_opset9
from mmdeploy.backend.base import BaseWrapper
from mmdeploy.core import FUNCTION_REWRITER
from torch import Tensor
from torch.nn.modules.utils import _pair


def _cast_long(g, input, non_blocking: bool):  # noqa: ANN001 (TorchScript graph objects)
    """torch's removed ``symbolic_opset9._cast_Long``: an ONNX Cast to int64."""
    return g.op('Cast', input, to_i=torch.onnx.TensorProtoDataType.INT64)


def _rewritten_descriptors() -> list[tuple[type, str, Any]]:
    """The ``staticmethod`` / ``classmethod`` objects of the classes mmdeploy's function
    rewriters target (those its exit does not restore as they were)."""
    from mmdeploy.core.rewriters.rewriter_utils import import_function

    found = []
    for path in list(FUNCTION_REWRITER._registry._rewrite_records):
        try:
            _, cls = import_function(path)
        except Exception:  # noqa: BLE001 (a codebase that is not installed: mmdeploy skips it too)
            continue
        name = path.rsplit('.', 1)[-1]
        if cls is not None and isinstance(vars(cls).get(name), (staticmethod, classmethod)):
            found.append((cls, name, vars(cls)[name]))
    return found


#: mmdeploy's module with its OpenVINO rewrite of ``SingleRoIExtractor.forward`` (gap 6).
_OPENVINO_ROI_EXTRACTOR = 'mmdeploy.codebase.mmdet.models.roi_heads.single_level_roi_extractor'


def drop_openvino_roi_extractor() -> None:
    """Remove mmdeploy's OpenVINO rewrite of mmdet's ``SingleRoIExtractor.forward`` (gap 6) from
    its rewriter registry, so that OpenVINO exports use its default rewrite (ONNX ``RoiAlign``
    per level, any batch). Nothing to do before mmdeploy's mmdet codebase is imported (it
    registers its rewriters then); calling it again is harmless."""
    module = sys.modules.get(_OPENVINO_ROI_EXTRACTOR)
    if module is None:
        return
    rewrite = module.single_roi_extractor__forward__openvino
    for records in FUNCTION_REWRITER._registry._rewrite_records.values():
        records[:] = [record for record in records if record.get('_object') is not rewrite]


@contextlib.contextmanager
def keep_rewritten_descriptors() -> Iterator[None]:
    """Leave the static and class methods that mmdeploy's function rewriters replace as they
    were, for every rewriter context entered in the block (an export, or the eager run of the
    rewritten model in :mod:`.check`); each entry also drops mmdeploy's OpenVINO RoI extractor
    rewrite (:func:`drop_openvino_roi_extractor`)."""
    # Read when mmdeploy applies its rewriters: its codebases register them on import, during
    # the export.
    descriptors: list[tuple[type, str, Any]] = []
    previous = vars(FUNCTION_REWRITER).get('enter')  # a wrapper of an enclosing block, if any
    original_enter = FUNCTION_REWRITER.enter

    @functools.wraps(original_enter)
    def enter(*args, **kwargs):  # noqa: ANN002, ANN003 (FunctionRewriter.enter's signature)
        drop_openvino_roi_extractor()
        descriptors.extend(_rewritten_descriptors())
        return original_enter(*args, **kwargs)

    FUNCTION_REWRITER.enter = enter
    try:
        yield
    finally:
        if previous is None:
            del FUNCTION_REWRITER.enter  # the class's method again
        else:
            FUNCTION_REWRITER.enter = previous
        for cls, name, descriptor in reversed(descriptors):  # the first one read wins
            setattr(cls, name, descriptor)


@contextlib.contextmanager
def torchscript_onnx_export() -> Iterator[None]:
    """Run ``torch.onnx.export`` calls without a ``dynamo`` argument on the TorchScript exporter,
    give mmdeploy's symbolics the torch helpers they import, for the duration of the block, and
    leave the static and class methods mmdeploy rewrites as they were."""
    original_export = torch.onnx.export

    @functools.wraps(original_export)
    def export(*args, **kwargs):  # noqa: ANN002, ANN003 (torch.onnx.export's own signature)
        kwargs.setdefault('dynamo', False)
        return original_export(*args, **kwargs)

    had_cast_long = hasattr(symbolic_opset9, '_cast_Long')
    torch.onnx.export = export
    if not had_cast_long:
        symbolic_opset9._cast_Long = _cast_long
    try:
        with keep_rewritten_descriptors():
            yield
    finally:
        torch.onnx.export = original_export
        if not had_cast_long:
            del symbolic_opset9._cast_Long


def adaptive_avg_pool2d_static(input: Tensor, output_size: int | tuple) -> Tensor:
    """``F.adaptive_avg_pool2d`` as plain slices and means, for a map whose size is known.

    Bin ``i`` of ``n`` over a side of ``L`` covers ``[floor(i * L / n), ceil((i + 1) * L / n))``,
    as in PyTorch's kernel; where ``n`` divides ``L`` this is one ``avg_pool2d``.
    """
    H, W = (int(size) for size in input.shape[-2:])
    oh, ow = (side if out is None else int(out) for out, side in zip(_pair(output_size), (H, W)))
    if H % oh == 0 and W % ow == 0:
        return F.avg_pool2d(input, (H // oh, W // ow))
    rows = []
    for i in range(oh):
        top, bottom = i * H // oh, -(-(i + 1) * H // oh)
        cells = [
            input[..., top:bottom, j * W // ow : -(-(j + 1) * W // ow)].mean(
                dim=(-2, -1), keepdim=True
            )
            for j in range(ow)
        ]
        rows.append(torch.cat(cells, dim=-1))
    return torch.cat(rows, dim=-2)


def adaptive_avg_pool2d_traceable(input: Tensor, output_size: int | tuple) -> Tensor:
    """``F.adaptive_avg_pool2d`` for a map whose size the graph learns when it runs (an export
    with dynamic height and width): each side is averaged by an ``(output, size)`` matrix of
    PyTorch's bins, made from the traced size.

    Bin ``i`` of ``n`` over a side of ``L`` covers ``[floor(i * L / n), ceil((i + 1) * L / n))``,
    as in PyTorch's kernel.
    """

    def bins(side: Tensor | int, n: int) -> Tensor:
        i = torch.arange(n, device=input.device)
        start, end = i * side // n, ((i + 1) * side + n - 1) // n
        position = torch.arange(side, device=input.device)
        inside = (position >= start[:, None]) & (position < end[:, None])
        return inside.to(input.dtype) / (end - start)[:, None].to(input.dtype)

    H, W = input.shape[-2:]
    oh, ow = _pair(output_size)
    if oh is not None:
        input = bins(H, int(oh)) @ input
    if ow is not None:
        input = input @ bins(W, int(ow)).t()
    return input


@FUNCTION_REWRITER.register_rewriter(
    func_name='torch.nn.functional.adaptive_avg_pool2d', backend='onnxruntime'
)
@FUNCTION_REWRITER.register_rewriter(
    func_name='torch.nn.functional.adaptive_avg_pool2d', backend='openvino'
)
def adaptive_avg_pool2d__onnxruntime(input: Tensor, output_size: int | tuple) -> Tensor:
    """mmdeploy rewriter: exact adaptive average pooling in onnxruntime and OpenVINO exports."""
    from mmdeploy.utils import is_dynamic_shape

    if is_dynamic_shape(FUNCTION_REWRITER.get_context().cfg):
        return adaptive_avg_pool2d_traceable(input, output_size)
    return adaptive_avg_pool2d_static(input, output_size)


class OpenVINOWrapper(BaseWrapper):
    """mmdeploy's backend wrapper interface over :class:`~.runtime.OpenVINOModel`: what
    mmdeploy's ``End2EndModel`` calls (a dict of input tensors in, a dict of output tensors out).

    Args:
        ir_model_file: The OpenVINO IR (``.xml``).
        output_names: The graph's outputs, in the order the backend model reads them.
        precision: ``'fp32'``, ``'bf16'`` or ``'int8'`` (as :class:`~.runtime.OpenVINOModel`).
        threads: OpenVINO's inference threads.
    """

    def __init__(
        self,
        ir_model_file: str,
        output_names: Sequence[str] | None = None,
        precision: str = 'fp32',
        threads: int = 1,
    ) -> None:
        from .runtime import OpenVINOModel

        self.model = OpenVINOModel(
            ir_model_file, threads=threads, precision=precision, output_names=output_names
        )
        super().__init__(self.model.output_names)

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        (batch,) = inputs.values()
        outputs = self.model(batch)
        return {name: torch.from_numpy(outputs[name]) for name in self.output_names}


@contextlib.contextmanager
def openvino_wrapper(threads: int = 1) -> Iterator[None]:
    """Make mmdeploy's OpenVINO backend manager build :class:`OpenVINOWrapper` (with the deploy
    config's ``backend_config.precision``) for the duration of the block, so that its backend
    models (``task_processor.build_backend_model``) run an IR made by
    :func:`dfvt_mm.deployment.to_openvino`."""
    from mmdeploy.backend.openvino import OpenVINOManager

    original = vars(OpenVINOManager)['build_wrapper']

    def build_wrapper(
        cls,  # noqa: ANN001 (classmethod, mmdeploy's signature)
        backend_files: Sequence[str],
        device: str = 'cpu',
        input_names: Sequence[str] | None = None,
        output_names: Sequence[str] | None = None,
        deploy_cfg: Any = None,
        **kwargs,  # noqa: ANN003
    ) -> OpenVINOWrapper:
        if device != 'cpu':
            raise ValueError(f'the OpenVINO backend here runs on the CPU, not {device}')
        precision = (deploy_cfg or {}).get('backend_config', {}).get('precision', 'fp32')
        return OpenVINOWrapper(backend_files[0], output_names, precision, threads)

    OpenVINOManager.build_wrapper = classmethod(build_wrapper)
    try:
        yield
    finally:
        OpenVINOManager.build_wrapper = original
