# Mask R-CNN + FPN on DFvT-S, COCO 2017: DFvT-T's 1x recipe with the small backbone.
_base_ = './mask_rcnn_dfvt_t_coco.py'

# ImageNet weights converted with tools/model_converters/dfvt_official_to_mm.py.
pretrained = 'checkpoints/dfvt_s_in1k.pth'

model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
