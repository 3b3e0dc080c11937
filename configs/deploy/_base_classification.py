# DFvT classifiers (mmpretrain): the graph outputs class scores (softmax), as mmdeploy's
# classification configs do. Batch is dynamic; height and width are those of the test pipeline's
# crop (224x224 for the ImageNet configs): on maps smaller than its window the classification
# layout shrinks the window, a choice the graph keeps from the export size (docs/deployment.md,
# Limits).
_base_ = ['./_base_onnx.py']

onnx_config = dict(dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
codebase_config = dict(type='mmpretrain', task='Classification')
