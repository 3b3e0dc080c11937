# Table 5, "SE": DANE's gated sum with its channel gate alone (squeeze-and-excitation of the
# context). DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(fusion_cfg=dict(type='SEFusion')))
