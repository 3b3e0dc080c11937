# UperNet on DFvT (mmseg) to OpenVINO IR on the CPU, one graph for any image size (see
# _base_segmentation_dynamic.py, and _base_openvino.py for the precision).
_base_ = ['./_base_segmentation_dynamic.py', './_base_openvino.py']
