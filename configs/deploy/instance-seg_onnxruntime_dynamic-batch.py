# Mask R-CNN on DFvT (mmdet) to onnxruntime (see _base_instance-seg.py for the graph; RoI
# extraction is onnx RoiAlign per level); height and width are those of the export image after
# the test pipeline, padded to 32.
_base_ = ['./_base_instance-seg.py', './_base_onnxruntime.py']
