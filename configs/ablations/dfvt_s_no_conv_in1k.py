# Table 4, "w/o conv info": no conv block before the attention (its input is the max-pooled
# stage input; the Spatial Module reads the stage input). DFvT-S's ImageNet recipe; only the
# backbone differs.
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(stage_cfg=dict(type='NoConvStage')))
