"""Run an exported model with onnxruntime (a CPU session called on a batch, as the benchmark and
the checks use it)."""

from __future__ import annotations

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
