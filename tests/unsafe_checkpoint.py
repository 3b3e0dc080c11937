"""A checkpoint that runs code when it is unpickled, as an attacker would craft one."""

from __future__ import annotations

import builtins
import copy
import os


class Payload:
    """Unpickling this calls ``exec``, which writes ``marker``: the side effect tests look for."""

    def __init__(self, marker: str | os.PathLike) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f'open({self.marker!r}, "w").write("pwned")',)


def save_with_payload(checkpoint: dict, path: str | os.PathLike, marker: str | os.PathLike) -> None:
    """Save a copy of ``checkpoint`` (a real one keeps every flow working up to unpickling) with
    the payload under ``meta``, where mmengine puts what it does not know."""
    import torch

    checkpoint = copy.copy(checkpoint)
    checkpoint['meta'] = dict(checkpoint.get('meta') or {}, note=Payload(marker))
    torch.save(checkpoint, path)
