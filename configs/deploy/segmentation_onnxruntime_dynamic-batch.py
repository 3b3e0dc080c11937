# UperNet on DFvT (mmseg) to onnxruntime, whole-image inference. The graph outputs the label map
# (argmax over classes, N x 1 x H x W), as mmdeploy's segmentation configs do. Batch is dynamic;
# height and width are fixed at export: those of the export image after the test pipeline here,
# 512x512 in the -512x512 variant (DFvT's window padding and shift masks are traced as constants).
_base_ = ['./_base_onnxruntime.py']

onnx_config = dict(dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=True)
