# DFvT classifiers (mmpretrain) to OpenVINO IR on the CPU (see _base_classification.py for the
# graph, _base_openvino.py for the precision).
_base_ = ['./_base_classification.py', './_base_openvino.py']
