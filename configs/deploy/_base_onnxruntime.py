# The onnxruntime backend (mmdeploy's configs/_base_/backends/onnxruntime.py): the ONNX file itself
# runs in onnxruntime, with mmdeploy's custom-op library registered.
backend_config = dict(type='onnxruntime')
