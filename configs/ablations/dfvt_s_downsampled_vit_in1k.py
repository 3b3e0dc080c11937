# Table 2 (b), "Downsampled ViT": max-pooling before the attention of each stage, nothing else:
# DFvT-S without its conv block, Spatial Module and DANE (Table 4's NoConvStage without the
# Spatial Module, as Table 3's CMStage). DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(stage_cfg=dict(type='DownsampledViTStage')))
