# Mask R-CNN + FPN on DFvT-T, COCO 2017, the authors' 1x recipe: AdamW lr 1e-4, weight decay 0.05
# (none on norms and relative position tables), 12 epochs with steps at 8 and 11, batch 16 total,
# multi-scale training with DETR's random-crop augmentation, images padded to 32. mmdet's Swin
# config already says all of that but the schedule length and the per-GPU batch; the backbone
# differs.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
custom_imports = dict(imports=['dfvt_mm'], allow_failed_imports=False)

# ImageNet weights converted with tools/model_converters/dfvt_official_to_mm.py.
pretrained = 'checkpoints/dfvt_t_in1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='DFvT',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,
        drop_path_rate=0.0,  # the ImageNet rate of each size (T 0, S 0.1, B 0.2)
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    neck=dict(in_channels=[48, 96, 192, 384]),
)

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.0))
# Total batch 16 from `tools/dist_train.sh CONFIG 4` (4 GPUs x 4); with 8 GPUs pass
# --cfg-options train_dataloader.batch_size=2.
train_dataloader = dict(batch_size=4)
