# Table 5, "rDANE": DANE with its gates' inputs swapped (channel attention on the Spatial Module's
# tokens, spatial attention on the context). DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(fusion_cfg=dict(type='RDANE')))
