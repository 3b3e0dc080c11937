# The OpenVINO backend (mmdeploy's configs/_base_/backends/openvino.py), CPU. The ONNX export is
# mmdeploy's, with its OpenVINO rewriters except its RoI extraction as OpenVINO's
# ExperimentalDetectronROIFeatureExtractor, which runs batch 1 only (Mask R-CNN extracts RoIs with
# ONNX RoiAlign per level, as for onnxruntime; see dfvt_mm/deployment/mmdeploy_patches.py,
# gap 6); the conversion to OpenVINO IR is
# ``openvino.convert_model``, not mmdeploy's Model Optimizer call (removed from OpenVINO; see
# dfvt_mm/deployment/export.py, to_openvino). mmdeploy's ``model_inputs`` (shapes for Model
# Optimizer) are not needed: the IR keeps the ONNX graph's shapes (batch dynamic).
backend_config = dict(
    type='openvino',
    # 'fp32' (f32 forced: without a hint OpenVINO runs bf16 on CPUs that have it), 'bf16'
    # (OpenVINO's bf16 inference precision, on CPUs with bf16), or 'int8' (post-training
    # quantization with NNCF, the rest in f32). tools/deployment/deploy.py --precision overrides it.
    precision='fp32',
)
# int8 calibration: this many images of the model config's train dataloader (a seeded sample),
# through the test pipeline; never validation images.
calib_config = dict(num_images=300, seed=0)
