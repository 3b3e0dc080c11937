# DFvT-S on ImageNet-1k: DFvT-T's recipe with the small arch and drop path 0.1.
_base_ = './dfvt_t_in1k.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.1), head=dict(in_channels=768))
