# Mask R-CNN on DFvT (mmdet) to OpenVINO IR on the CPU, one graph for any image size (see
# _base_instance-seg_dynamic.py, and _base_openvino.py for the precision; RoI extraction is ONNX
# RoiAlign per level, as for onnxruntime).
_base_ = ['./_base_instance-seg_dynamic.py', './_base_openvino.py']
