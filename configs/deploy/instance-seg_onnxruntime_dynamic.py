# Mask R-CNN on DFvT (mmdet) to onnxruntime, one graph for any image size (see
# _base_instance-seg_dynamic.py; RoI extraction is onnx RoiAlign per level).
_base_ = ['./_base_instance-seg_dynamic.py', './_base_onnxruntime.py']
