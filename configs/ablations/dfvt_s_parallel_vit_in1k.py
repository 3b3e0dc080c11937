# Table 2 (c), "Parallel ViT": the downsampled ViT of (b) with a parallel conv path per stage on
# the stage's input (one inverted residual per block, as wide as the MLP), max-pooled and added to
# the tokens after the blocks. DFvT-S's ImageNet recipe; only the backbone differs (the recipe's 2x
# learning rate keys match DFvT's conv paths, not this one).
_base_ = '../dfvt_s_in1k.py'

model = dict(backbone=dict(stage_cfg=dict(type='ParallelViTStage')))
