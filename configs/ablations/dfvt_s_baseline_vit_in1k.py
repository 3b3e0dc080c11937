# Table 2 (a), "Baseline ViT": a Swin-style pyramid with window attention at each stage's input
# resolution and patch merging at the end of stages 0-2 (no convs, no Spatial Module, no DANE).
# DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(type='BaselineViT'))
