# Mask R-CNN + FPN on DFvT-B, COCO 2017: DFvT-T's 1x recipe with the base backbone.
_base_ = './mask_rcnn_dfvt_t_coco.py'

# ImageNet weights converted with tools/model_converters/dfvt_official_to_mm.py.
pretrained = 'checkpoints/dfvt_b_in1k.pth'

model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    neck=dict(in_channels=[128, 256, 512, 1024]),
    # The authors test DFvT-B with soft-NMS in both stages (maskrcnn_DFvT_base_1x_coco.py).
    test_cfg=dict(
        rpn=dict(nms=dict(type='soft_nms', iou_threshold=0.7)),
        rcnn=dict(nms=dict(type='soft_nms', iou_threshold=0.5)),
    ),
)
