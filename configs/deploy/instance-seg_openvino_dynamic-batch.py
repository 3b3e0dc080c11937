# Mask R-CNN on DFvT (mmdet) to OpenVINO IR on the CPU (see _base_instance-seg.py for the graph,
# _base_openvino.py for the precision; RoI extraction is OpenVINO's
# ExperimentalDetectronROIFeatureExtractor over all levels, mmdeploy's OpenVINO rewrite). Height
# and width are those of the export image after the test pipeline, padded to 32.
_base_ = ['./_base_instance-seg.py', './_base_openvino.py']
