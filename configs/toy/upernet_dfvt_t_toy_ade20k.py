# UperNet on DFvT-T with the ADE20K recipe of ../upernet_dfvt_t_ade20k.py, on the built-in toy
# dataset (tools/data/make_toy_dataset.py ade20k): background + 5 shape classes, label 0 ignored, 96x96
# images, a CPU-sized schedule. Overrides, and why: 6 classes; the backbone starts from DFvT-T
# trained on the toy classification dataset (`python tools/train.py configs/toy/dfvt_t_toy_in1k.py`
# writes it), as the real config starts from ImageNet; BN instead of SyncBN in the heads (SyncBN
# has no CPU path) and 128/64 channels instead of 512/256 (at 64x64 crops the 2048->512 fusion
# conv was a quarter of each iteration; measured mIoU 27.4 in 6.9 min with 512/256, 24.2 in 1.2 min
# with 128/64 (20.9 with sliding windows), 22.8 with 256/128, 22.7 with 128/64 over 600
# iterations and 23.1 with lr 2e-4: toy-scale noise);
# the same resize / crop / flip / photometric pipeline at toy scales (64x64 crops
# of images rescaled to 0.5-2x of 96 pixels); a short warm-up and poly schedule; mmseg's
# BaseSegDataset with ADE20K's file suffixes and reduce_zero_label (ADE20KDataset only accepts
# subsets of ADE20K's 150 classes).
_base_ = '../upernet_dfvt_t_ade20k.py'

data_root = 'data/toy_ade20k'
dataset = dict(
    type='BaseSegDataset', img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True
)
metainfo = dict(
    classes=('background', 'circle', 'square', 'triangle', 'star', 'cross'),
    palette=[
        [120, 120, 120],
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
    ],
)
crop_size = (64, 64)
max_iters = 300
pretrained = 'work_dirs/dfvt_t_toy_in1k/epoch_15.pth'
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(num_classes=6, channels=128, norm_cfg=norm_cfg),
    auxiliary_head=dict(num_classes=6, channels=64, norm_cfg=norm_cfg),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(384, 96), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(384, 96), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(**dataset, data_root=data_root, metainfo=metainfo, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    dataset=dict(**dataset, data_root=data_root, metainfo=metainfo, pipeline=test_pipeline),
)
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1),
)
randomness = dict(seed=0)
