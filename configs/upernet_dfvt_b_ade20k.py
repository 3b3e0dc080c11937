# UperNet on DFvT-B, ADE20K: DFvT-T's recipe with the base backbone.
_base_ = './upernet_dfvt_t_ade20k.py'

# ImageNet weights converted with tools/model_converters/dfvt_official_to_mm.py.
pretrained = 'checkpoints/dfvt_b_in1k.pth'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
)
