"""Run an exported model on the CPU, called on a batch as the benchmark and the checks use it: an
ONNX file in onnxruntime (:class:`OnnxRuntimeModel`) or an OpenVINO IR (:class:`OpenVINOModel`),
both returning every output by name."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch


def mmdeploy_custom_ops() -> str | None:
    """The path of mmdeploy's onnxruntime custom-op library, or None when it is not installed."""
    from mmdeploy.backend.onnxruntime.init_plugins import get_ops_path

    path = get_ops_path()
    return path or None


class OnnxRuntimeModel:
    """An ONNX file in an onnxruntime CPU session, called on a batch.

    Args:
        onnx_file: The exported model (path or serialized bytes).
        threads: onnxruntime's intra-op threads; 0 lets onnxruntime choose.
        custom_ops: Register mmdeploy's custom-op library (as mmdeploy's own wrapper does).
        extra_outputs: Names of intermediate tensors to return as well (see
            :func:`with_outputs`).
        spinning: Let onnxruntime's worker threads spin-wait for work after a run (its own
            default). Off here: in a process that also runs PyTorch (the benchmark, the checks),
            spinning workers hold the cores that PyTorch's threads need next. Measured on a
            2-core Xeon, DFvT-T eager at batch 1 took 47-64 ms right after spinning sessions'
            runs and 18-19 ms after non-spinning ones, while onnxruntime alone ran as fast
            either way. A process that runs only onnxruntime may turn it on.

    Example:
        >>> model = OnnxRuntimeModel('work_dirs/deploy/end2end.onnx', threads=1)
        >>> outputs = model(torch.rand(16, 3, 224, 224))   # {'output': array (16, 1000)}
    """

    def __init__(
        self,
        onnx_file: str | bytes,
        threads: int = 1,
        custom_ops: bool = True,
        extra_outputs: Sequence[str] = (),
        spinning: bool = False,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry('session.intra_op.allow_spinning', str(int(spinning)))
        ops = mmdeploy_custom_ops() if custom_ops else None
        if ops:
            options.register_custom_ops_library(ops)
        if extra_outputs:
            onnx_file = with_outputs(onnx_file, extra_outputs)
        self.session = ort.InferenceSession(onnx_file, options, providers=['CPUExecutionProvider'])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [output.name for output in self.session.get_outputs()]

    def __call__(self, batch: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
        """Run the model on an (N, C, H, W) float batch; returns every output by name."""
        if isinstance(batch, torch.Tensor):
            batch = batch.detach().cpu().numpy()
        outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(batch)})
        return dict(zip(self.output_names, outputs))


#: OpenVINO's inference precision of each deploy precision. int8 runs the quantized IR; what NNCF
#: leaves unquantized runs in f32, so that an int8 measurement measures int8 alone.
OPENVINO_INFERENCE_PRECISION = {'fp32': 'f32', 'bf16': 'bf16', 'int8': 'f32'}
#: OpenVINO CPU properties of each deploy precision besides its inference precision. fp32
#: computes what PyTorch computes (within 1e-4): compiled static, OpenVINO's snippets (its fused
#: subgraph kernels) moved a toy DFvT's logits by 9e-3 from the dynamic compile, which they equal
#: with the snippets off; on DFvT-T/B at 224x224 the snippets were 0.94-1.07x as fast. bf16 and
#: int8 keep them: their accuracy is measured on the validation set.
OPENVINO_PROPERTIES = {'fp32': {'SNIPPETS_MODE': 'DISABLE'}, 'bf16': {}, 'int8': {}}


@functools.cache
def openvino_core():  # noqa: ANN201 (openvino is imported lazily)
    """The process's one ``openvino.Core``, which every model here is read and compiled with.

    OpenVINO's Core is thread-safe and meant to be shared; a new Core per model also loads the
    CPU plugin again, and OpenVINO 2026 builds have crashed on a second Core in one process
    (openvinotoolkit/openvino#35338).
    """
    import openvino as ov

    return ov.Core()


def openvino_cpu_capabilities() -> list[str]:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of this CPU (``FP32``, ``INT8``, ``BF16``, ...)."""
    return list(openvino_core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))


def bf16_unsupported_reason() -> str | None:
    """None where OpenVINO runs bf16 on this CPU; else one line saying why not and what runs.

    OpenVINO's CPU plugin has bf16 kernels only for CPUs with AVX512_BF16 or AMX (it lists
    ``BF16`` in its capabilities); elsewhere a bf16 precision hint is ignored and f32 runs.
    """
    import platform

    capabilities = openvino_cpu_capabilities()
    if 'BF16' in capabilities:
        return None
    cpu = _cpu_model_name() or platform.processor() or 'this CPU'
    return (
        f'{cpu} has no bf16 in OpenVINO (its CPU capabilities: {", ".join(capabilities)}; bf16 '
        f'needs AVX512_BF16 or AMX): bf16 runs as f32'
    )


def _cpu_model_name() -> str | None:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return None


#: Input shapes an :class:`OpenVINOModel` keeps a compiled model for (the least recently used
#: goes first): a dynamic-size detector meets as many shapes as its validation images have.
OPENVINO_SHAPES_KEPT = 8


class OpenVINOModel:
    """An OpenVINO IR (or ONNX file) compiled for the CPU, called on a batch.

    A graph with dynamic dimensions (the batch; height and width in the dynamic-size configs) is
    compiled for each input shape it is called on, with that shape made static (as mmdeploy's
    own OpenVINO wrapper reshapes its network to each input), and the compiled models of the
    last :data:`OPENVINO_SHAPES_KEPT` shapes are kept. OpenVINO's CPU plugin runs a static graph
    much faster: measured on a 2-core AMD EPYC (AVX-512), DFvT-T at 224x224 in f32 took 7.1 ms
    per batch of 1 and 98 ms per batch of 16 compiled static, 9.1 and 129 ms compiled dynamic.
    A new shape costs a compilation (tenths of a second for DFvT-T); ``static_shapes=False``
    compiles the graph once, as it is.

    Args:
        model_file: The model (``.xml`` IR from :func:`dfvt_mm.deployment.to_openvino`, or an
            ONNX file, which OpenVINO reads directly).
        threads: OpenVINO's inference threads; 0 lets OpenVINO choose.
        precision: ``'fp32'``, ``'bf16'`` or ``'int8'`` (see
            :data:`OPENVINO_INFERENCE_PRECISION`, :data:`OPENVINO_PROPERTIES`); the IR of
            ``'int8'`` is the quantized one.
            Without a hint OpenVINO picks bf16 on CPUs that have it, so ``'fp32'`` forces f32.
            ``'bf16'`` where the CPU has no bf16 runs f32 (:func:`bf16_unsupported_reason`).
        extra_outputs: Names of intermediate tensors to return as well (OpenVINO keeps the ONNX
            tensor names), as in :class:`OnnxRuntimeModel`.
        output_names: The names to return the model's outputs by, each one of its output
            tensor's names (default: any name of each; a tensor may have several).
        static_shapes: Compile a dynamic graph for each input shape (above); else once, dynamic.

    Example:
        >>> model = OpenVINOModel('work_dirs/deploy/end2end.xml', precision='fp32')
        >>> outputs = model(torch.rand(16, 3, 224, 224))   # {'output': array (16, 1000)}
        >>> model.inference_precision, model.compiled_shapes
        ('f32', [(16, 3, 224, 224)])
    """

    def __init__(
        self,
        model_file: str,
        threads: int = 1,
        precision: str = 'fp32',
        extra_outputs: Sequence[str] = (),
        output_names: Sequence[str] | None = None,
        static_shapes: bool = True,
    ) -> None:
        if precision not in OPENVINO_INFERENCE_PRECISION:
            raise ValueError(
                f'precision {precision!r}: use one of {sorted(OPENVINO_INFERENCE_PRECISION)}'
            )
        model = openvino_core().read_model(model_file)
        tensors = {name for op in model.get_ops() for out in op.outputs() for name in out.names}
        missing = [name for name in extra_outputs if name not in tensors]
        if missing:
            raise KeyError(f'the OpenVINO model has no tensors named {missing}')
        if output_names is None:
            output_names = [out.get_any_name() for out in model.outputs]
        unknown = [
            (name, sorted(out.names))
            for name, out in zip(output_names, model.outputs)
            if name not in out.names
        ]
        if unknown or len(output_names) != len(model.outputs):
            raise KeyError(
                f'output names {list(output_names)} do not name the model outputs '
                f'{[sorted(out.names) for out in model.outputs]}'
            )
        if len(model.inputs) != 1:
            raise ValueError(
                f'{model_file}: expected one input (the image batch), got {len(model.inputs)}'
            )
        for name in extra_outputs:
            model.add_outputs(name)
        # bf16 where OpenVINO has no bf16 kernels runs f32 (said by bf16_unsupported_reason).
        self.note = bf16_unsupported_reason() if precision == 'bf16' else None
        hint = 'f32' if self.note else OPENVINO_INFERENCE_PRECISION[precision]
        self.config = {
            'INFERENCE_PRECISION_HINT': hint, 'NUM_STREAMS': 1, 'PERFORMANCE_HINT': 'LATENCY',
            **OPENVINO_PROPERTIES[precision],
        }  # fmt: skip
        if threads:
            self.config['INFERENCE_NUM_THREADS'] = threads
        self.model = model
        self.precision = precision
        self.input_name = model.inputs[0].get_any_name()
        self.output_names = [*output_names, *extra_outputs]
        self.static_shapes = static_shapes and model.inputs[0].get_partial_shape().is_dynamic
        # Input shape (None: the graph as it is) -> (compiled model, its infer request).
        self._compiled: OrderedDict = OrderedDict()
        if not self.static_shapes:
            self._compile(None)

    @property
    def compiled_shapes(self) -> list[tuple[int, ...]]:
        """The input shapes compiled for and kept, the most recently used last."""
        return [shape for shape in self._compiled if shape is not None]

    @property
    def compiled(self):  # noqa: ANN201 (openvino is imported lazily)
        """The most recently used ``openvino.CompiledModel`` (the graph as it is, compiled now,
        if none was yet)."""
        if not self._compiled:
            self._compile(None)
        return next(reversed(self._compiled.values()))[0]

    @property
    def inference_precision(self) -> str:
        """The precision OpenVINO compiled the model for (``'f32'``, ``'bf16'``)."""
        return self.compiled.get_property('INFERENCE_PRECISION_HINT').to_string()

    def _compile(self, shape: tuple[int, ...] | None) -> tuple:
        import openvino as ov

        model = self.model
        if shape is not None:
            model = model.clone()
            model.reshape({model.inputs[0]: ov.PartialShape(list(shape))})
        compiled = openvino_core().compile_model(model, 'CPU', self.config)
        self._compiled[shape] = compiled, compiled.create_infer_request()
        while len(self._compiled) > OPENVINO_SHAPES_KEPT:
            self._compiled.popitem(last=False)
        return self._compiled[shape]

    def _request(self, shape: tuple[int, ...]) -> tuple:
        key = shape if self.static_shapes else None
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        return self._compile(key)

    def __call__(self, batch: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
        """Run the model on an (N, C, H, W) float batch; returns every output by name."""
        if isinstance(batch, torch.Tensor):
            batch = batch.detach().cpu().numpy()
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        compiled, request = self._request(tuple(batch.shape))
        results = request.infer({0: batch})
        # The request reuses its output buffers: copy before the next call.
        return {
            name: np.array(results[port]) for name, port in zip(self.output_names, compiled.outputs)
        }


def with_outputs(onnx_file: str | bytes, names: Sequence[str]) -> bytes:
    """The model with intermediate tensors ``names`` added to its outputs (serialized).

    The nodes and weights are the file's own, so a check of these outputs checks the exported
    graph itself (e.g. the logits that feed its final Softmax or ArgMax).
    """
    import onnx

    model = (
        onnx.load_from_string(onnx_file) if isinstance(onnx_file, bytes) else onnx.load(onnx_file)
    )
    produced = {out for node in model.graph.node for out in node.output}
    missing = [name for name in names if name not in produced]
    if missing:
        raise KeyError(f'the ONNX graph has no tensors named {missing}')
    for name in names:
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        )
    return model.SerializeToString()


def last_node_input(onnx_file: str, op_type: str) -> str:
    """The name of the first input of the graph's last ``op_type`` node (e.g. the logits that
    feed the final ``Softmax``)."""
    import onnx

    nodes = [node for node in onnx.load(onnx_file).graph.node if node.op_type == op_type]
    if not nodes:
        raise KeyError(f'{onnx_file} has no {op_type} node')
    return nodes[-1].input[0]
