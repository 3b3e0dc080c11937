# UperNet on DFvT (mmseg) to OpenVINO IR on the CPU (see _base_segmentation.py for the graph,
# _base_openvino.py for the precision); height and width are those of the export image after the
# test pipeline.
_base_ = ['./_base_segmentation.py', './_base_openvino.py']
