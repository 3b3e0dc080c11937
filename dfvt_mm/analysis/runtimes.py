"""The deploy runtimes as speed modes: an exported ONNX file run by onnxruntime or by OpenVINO in
fp32, bf16 or int8, called on a batch (the benchmark's runtime columns and
``tools/analysis/speed_vs_commit.py``).

The int8 model is the OpenVINO IR quantized by NNCF (:func:`dfvt_mm.deployment.quantize_openvino`)
on the calibration batches the caller gives. With random weights and random calibration images
that is a speed figure only; the accuracy of int8 is measured on trained models
(``tools/deployment/deploy.py --accuracy``, :func:`precision_accuracy`).
"""

from __future__ import annotations

import os.path as osp
from collections.abc import Callable, Sequence

import numpy as np

#: Speed mode -> (backend, precision).
RUNTIMES = {
    'onnxruntime': ('onnxruntime', 'fp32'),
    'openvino': ('openvino', 'fp32'),
    'openvino-bf16': ('openvino', 'bf16'),
    'openvino-int8': ('openvino', 'int8'),
}
#: int8 calibration batches of the timed models (:func:`random_calibration`).
CALIBRATION_BATCHES = 8
#: How the tables name each runtime mode.
LABELS = {
    'onnxruntime': 'onnxruntime fp32',
    'openvino': 'OpenVINO fp32',
    'openvino-bf16': 'OpenVINO bf16',
    'openvino-int8': 'OpenVINO int8',
}


def runtime_not_available(mode: str) -> str | None:
    """Why a runtime mode cannot run here (its package missing, or no bf16 in this CPU), or
    None."""
    backend, precision = RUNTIMES[mode]
    packages = ['onnxruntime'] if backend == 'onnxruntime' else ['openvino']
    if precision == 'int8':
        packages.append('nncf')
    for package in packages:
        try:
            __import__(package)
        except ImportError:
            return f'{package} is not installed (requirements/deploy.txt)'
    if precision == 'bf16':
        from ..deployment import bf16_unsupported_reason

        return bf16_unsupported_reason()
    return None


def random_calibration(
    image_shape: Sequence[int], batches: int = CALIBRATION_BATCHES, seed: int = 0
) -> list[np.ndarray]:
    """Seeded standard-normal batches of one (C, H, W) image each: the int8 calibration of the
    timed models, whose weights are random too (a speed figure; trained models calibrate on
    training images, :func:`dfvt_mm.deployment.calibration_inputs`)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((1, *image_shape), dtype=np.float32) for _ in range(batches)]


def runtime_file(mode: str, onnx_file: str, calibration: Sequence[np.ndarray] = ()) -> str:
    """The file the runtime of ``mode`` runs for ``onnx_file``: the file itself (onnxruntime), its
    OpenVINO IR beside it, made once, or for ``openvino-int8`` that IR quantized on
    ``calibration`` (a list of input batches) into ``*_int8.xml``."""
    from ..deployment import quantize_openvino, to_openvino

    backend, precision = RUNTIMES[mode]
    if backend == 'onnxruntime':
        return onnx_file
    xml_file = osp.splitext(onnx_file)[0] + '.xml'
    if not osp.isfile(xml_file):
        to_openvino(onnx_file, xml_file)
    if precision != 'int8':
        return xml_file
    if not calibration:
        raise ValueError('openvino-int8 needs calibration batches')
    return quantize_openvino(xml_file, list(calibration))


def load_runtime(
    mode: str, path: str, threads: int, extra_outputs: Sequence[str] = ()
) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """The file of :func:`runtime_file` in the runtime of ``mode``, as a call on an (N, C, H, W)
    float batch that returns every output by name (and the ``extra_outputs`` tensors)."""
    from ..deployment import OnnxRuntimeModel, OpenVINOModel

    backend, precision = RUNTIMES[mode]
    if backend == 'onnxruntime':
        return OnnxRuntimeModel(path, threads=threads, extra_outputs=extra_outputs)
    return OpenVINOModel(path, threads=threads, precision=precision, extra_outputs=extra_outputs)
