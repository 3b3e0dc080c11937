"""A hook for the kill-during-a-save test: at one epoch's checkpoint it puts an object in the
checkpoint whose pickling signals the test (a marker file) and then blocks, so that the process
is inside ``torch.save`` of that checkpoint when the test kills it."""

import time

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


class _Stall:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        open(self.marker, 'w').close()
        time.sleep(600)  # killed long before
        raise RuntimeError('the test did not kill this run')


@HOOKS.register_module()
class StallInSaveHook(Hook):
    def __init__(self, epoch: int, marker: str) -> None:
        self.epoch = epoch
        self.marker = marker

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta'].get('epoch') == self.epoch:
            checkpoint['stall'] = _Stall(self.marker)
