# Table 5, "SPATIAL": DANE's gated sum with its spatial gate alone (on the Spatial Module's
# tokens). DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(fusion_cfg=dict(type='SpatialFusion')))
