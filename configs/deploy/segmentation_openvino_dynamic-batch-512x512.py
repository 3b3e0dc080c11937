# As segmentation_openvino_dynamic-batch.py, with every image resized to 512x512 (the ADE20K
# configs' crop size; mmdeploy's segmentation_openvino_static-512x512.py does the same).
_base_ = ['./segmentation_openvino_dynamic-batch.py']

onnx_config = dict(input_shape=[512, 512])
