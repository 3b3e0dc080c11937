# What every deploy config here shares: mmdeploy's ONNX export settings (mmdeploy's
# configs/_base_/onnx_config.py, written out here because mmdeploy's wheel does not ship its
# configs). The backend comes from _base_onnxruntime.py or _base_openvino.py, the task's outputs
# and post-processing from _base_classification.py, _base_segmentation.py or
# _base_instance-seg.py.
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=11,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    # None: the size the model's test pipeline gives the export image. The graph is static in
    # height and width unless dynamic_axes names them (the *_dynamic.py configs); set [W, H] to
    # fix another size.
    input_shape=None,
    optimize=True,
)
