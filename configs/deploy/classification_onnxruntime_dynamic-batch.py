# DFvT classifiers (mmpretrain) to onnxruntime (see _base_classification.py for the graph).
_base_ = ['./_base_classification.py', './_base_onnxruntime.py']
