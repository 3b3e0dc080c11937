# Mask R-CNN + FPN on DFvT-T, COCO 2017, the authors' 1x recipe (their Object-Detection branch,
# configs/DFvT/maskrcnn_DFvT_tiny_1x_coco.py on mmdet 2.11): AdamW lr 1e-4, weight decay 0.05,
# 12 epochs with steps at 8 and 11 after a 500-iteration linear warm-up from 0.001x, batch 16 total,
# multi-scale training with DETR's random-crop augmentation, images padded to 32, drop path 0.1,
# fp16 with a dynamic loss scale. mmdet's Swin config already says all of that but the schedule
# length, the warm-up, the per-GPU batch and mixed precision; the backbone differs.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
custom_imports = dict(imports=['dfvt_mm'], allow_failed_imports=False)
# Crash-safe checkpoints (dfvt_mm.engine.crash_safe): the upstream CheckpointHook's arguments, with
# each file fsynced and renamed into place, so a kill during a save loses nothing.
default_hooks = dict(checkpoint=dict(type='CrashSafeCheckpointHook'))

# ImageNet weights converted with tools/model_converters/dfvt_official_to_mm.py.
pretrained = 'checkpoints/dfvt_t_in1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='DFvT',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,
        drop_path_rate=0.1,  # the authors' value for all three sizes
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    neck=dict(in_channels=[48, 96, 192, 384]),
    # The authors' test settings (mmdet's defaults, written out because DFvT-B changes them).
    test_cfg=dict(
        rpn=dict(
            nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0
        ),
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100,
            mask_thr_binary=0.5,
        ),
    ),
)

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
# No weight decay on parameters whose name contains `norm` (the authors' mmdet 2.x custom key, which
# mmdet's Swin config repeats) or on the relative position tables. In the authors' names that is
# the stem's BatchNorms (patch_embed.norm1/norm), the blocks' LayerNorms, the expansions' and the
# output norms; their conv-block BatchNorms and DANE's LayerNorms are named by index and DID decay,
# as did every bias. Here the stem's BatchNorms are `patch_embed.<i>.bn`, hence two more keys.
# Mixed precision as their DistOptimizerHook(use_fp16=True): fp16 with a dynamic loss scale
# (AmpOptimWrapper's default); no gradient clipping.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    paramwise_cfg=dict(
        custom_keys={
            'patch_embed.0.bn': dict(decay_mult=0.0),
            'patch_embed.1.bn': dict(decay_mult=0.0),
        }
    ),
)
# Total batch 16 from `tools/dist_train.sh CONFIG 4` (4 GPUs x 4); with 8 GPUs pass
# --cfg-options train_dataloader.batch_size=2.
train_dataloader = dict(batch_size=4)
