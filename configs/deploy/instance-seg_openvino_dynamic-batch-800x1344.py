# As instance-seg_openvino_dynamic-batch.py, with every image resized to 800x1344 (COCO's test
# scale 1333x800 padded to 32; mmdeploy's instance-seg_openvino_dynamic-800x1344.py uses the same
# size).
_base_ = ['./instance-seg_openvino_dynamic-batch.py']

onnx_config = dict(input_shape=[1344, 800])
