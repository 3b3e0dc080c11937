# Table 4, "w/o maxpooling info": the attention's input is the conv block's output alone.
# DFvT-S's ImageNet recipe; only the backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(stage_cfg=dict(type='NoMaxPoolStage')))
