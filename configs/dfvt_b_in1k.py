# DFvT-B on ImageNet-1k: the base arch, drop path 0.2 and a total batch of 512 (4 x 128); the
# learning rate stays 1e-3 as in the paper.
_base_ = './dfvt_t_in1k.py'

model = dict(backbone=dict(arch='base', drop_path_rate=0.2), head=dict(in_channels=1024))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
auto_scale_lr = dict(base_batch_size=512)
