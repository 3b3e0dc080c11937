# Table 2 (b), "Downsampled ViT": max-pooling before the attention of each stage, nothing else:
# DFvT-S without its conv block, Spatial Module and DANE (the same model as
# pre_sa=['maxpool'], spatial_module=False). DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(design='downsampled'))
