"""A hook for the multi-node test: after training, every rank saves its model's parameters to
``<work_dir>/rank<r>_params.pth`` (mmengine's CheckpointHook saves on rank 0 only)."""

import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankParamsHook(Hook):
    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        params = {k: v.detach().cpu() for k, v in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir, f'rank{get_rank()}_params.pth'))
