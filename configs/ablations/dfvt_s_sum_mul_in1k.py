# Table 5, "SUM+MUL": x + s + x * s of the context tokens x and the Spatial Module's tokens s.
# DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(fusion_cfg=dict(type='SumMulFusion')))
