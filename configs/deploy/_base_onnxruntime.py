# What the three deploy configs share: mmdeploy's ONNX export settings and the onnxruntime backend
# (mmdeploy's configs/_base_/onnx_config.py and backends/onnxruntime.py, written out here because
# mmdeploy's wheel does not ship its configs).
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=11,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    # None: the size the model's test pipeline gives the export image. The graph is static in
    # height and width (see the README's deployment limits); set [W, H] to fix another size.
    input_shape=None,
    optimize=True,
)
backend_config = dict(type='onnxruntime')
