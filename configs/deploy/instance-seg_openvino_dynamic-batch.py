# Mask R-CNN on DFvT (mmdet) to OpenVINO IR on the CPU (see _base_instance-seg.py for the graph,
# _base_openvino.py for the precision; RoI extraction is ONNX RoiAlign per level with each RoI's
# image index, as for onnxruntime: mmdeploy's OpenVINO rewrite to
# ExperimentalDetectronROIFeatureExtractor runs batch 1 only). Height and width are those of the
# export image after the test pipeline, padded to 32.
_base_ = ['./_base_instance-seg.py', './_base_openvino.py']
