# As instance-seg_onnxruntime_dynamic-batch.py, with every image resized to 800x1344 (COCO's test
# scale 1333x800 padded to 32; mmdeploy's instance-seg static-800x1344 configs do the same).
_base_ = ['./instance-seg_onnxruntime_dynamic-batch.py']

onnx_config = dict(input_shape=[1344, 800])
