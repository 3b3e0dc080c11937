# Table 3, "CM": the Context Module alone (no Spatial Module, no DANE).
# DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(stage_cfg=dict(type='CMStage')))
