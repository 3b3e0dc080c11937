# UperNet on DFvT-T, ADE20K, 512x512 crops, 160k iterations. The authors released no segmentation
# code; the supplementary (Table 3) reports UperNet without a recipe, so this is mmseg's Swin
# UperNet recipe unchanged (AdamW lr 6e-5, weight decay 0.01 with none on parameters named `norm`
# and on relative position tables, 1500 linear warm-up iterations then poly decay, batch 16 = 8 GPUs
# x 2); only the backbone differs. Drop path: the ImageNet rate of each size (T 0, S 0.1, B 0.2).
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
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
        drop_path_rate=0.0,  # the ImageNet rate of each size (T 0, S 0.1, B 0.2)
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    decode_head=dict(in_channels=[48, 96, 192, 384]),
    auxiliary_head=dict(in_channels=192),  # stage 2
)
