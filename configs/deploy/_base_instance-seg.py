# Mask R-CNN on DFvT (mmdet), post-processing in the graph: RPN and R-CNN NMS (onnx
# NonMaxSuppression), RoIAlign, the mask head. Outputs per image: dets (x1, y1, x2, y2, score),
# labels, and 28x28 mask probabilities per detection, pasted into the image outside the graph
# (mmdeploy's End2EndModel), as in mmdeploy's instance-seg configs. Batch is dynamic; height and
# width are fixed at export (the export image after the test pipeline and padding to 32, unless
# onnx_config.input_shape fixes them: the -800x1344 variants); the *_dynamic.py configs make them
# dynamic too (_base_instance-seg_dynamic.py).
_base_ = ['./_base_onnx.py']

onnx_config = dict(
    output_names=['dets', 'labels', 'masks'],
    dynamic_axes={
        'input': {0: 'batch'},
        'dets': {0: 'batch', 1: 'num_dets'},
        'labels': {0: 'batch', 1: 'num_dets'},
        'masks': {0: 'batch', 1: 'num_dets'},
    },
)
codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    # The model's test_cfg decides the NMS thresholds and the number of detections (mmdeploy reads
    # rpn/rcnn nms, score_thr and max_per_img from it). These are mmdeploy's fallbacks, except
    # score_threshold: the RPN has no score_thr, and mmdeploy's default 0.05 would drop low-scoring
    # proposals that mmdet's RPN keeps; R-CNN keeps its own score_thr (0.05).
    post_processing=dict(
        score_threshold=0.0,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        max_output_boxes_per_class=200,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1,
        export_postprocess_mask=False,
    ),
)
