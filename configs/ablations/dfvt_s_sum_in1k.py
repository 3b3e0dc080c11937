# Table 5, "SUM" (= Table 3, "CM + SM"): the Spatial Module's tokens added after attention,
# no DANE. DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(fusion_cfg=dict(type='SumFusion')))
