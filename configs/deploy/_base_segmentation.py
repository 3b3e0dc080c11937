# UperNet on DFvT (mmseg), whole-image inference. The graph outputs the label map (argmax over
# classes, N x 1 x H x W), as mmdeploy's segmentation configs do. Batch is dynamic; height and
# width are fixed at export: those of the export image after the test pipeline, unless
# onnx_config.input_shape fixes them (the -512x512 variants). The *_dynamic.py configs make them
# dynamic too (_base_segmentation_dynamic.py).
_base_ = ['./_base_onnx.py']

onnx_config = dict(dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=True)
