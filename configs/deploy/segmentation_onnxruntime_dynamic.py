# UperNet on DFvT (mmseg) to onnxruntime, one graph for any image size (see
# _base_segmentation_dynamic.py).
_base_ = ['./_base_segmentation_dynamic.py', './_base_onnxruntime.py']
