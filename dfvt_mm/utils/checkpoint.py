"""Loading checkpoint files without running code from them, and one error type for bad ones.

torch >= 2.6 loads with ``weights_only=True``: the unpickler builds tensors, containers, builtin
scalars and the globals a caller allow-lists, nothing else, so a ``.pth`` cannot run code when it
is loaded. mmengine 0.10.7's own checkpoints hold a few more types (the message hub's
``HistoryBuffer`` and the numpy arrays and scalars in it), which is why stock mmengine fails to
resume from them on torch 2.13. :func:`load_from_local` keeps ``weights_only=True`` and
allow-lists exactly those types (:func:`checkpoint_safe_globals`) for the duration of the call;
a file that needs anything else is refused with :class:`UnsafeCheckpointError`. The one way to
load such a file anyway is torch's own switch, ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, honoured
here because torch ignores it when a caller passes ``weights_only`` explicitly.

Every problem with a checkpoint file is a :class:`CheckpointError` whose message is one line: the
file, what is wrong, and what to do.
"""

from __future__ import annotations

import contextlib
import os
import os.path as osp
import pickle
import re
from collections.abc import Iterator, Mapping
from typing import Any, Callable

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log

#: torch's documented switch for loading a trusted file with ``weights_only=False``.
TRUST_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
# The values torch.load accepts as "set" for its TORCH_FORCE_* switches.
_TRUE = ('1', 'y', 'yes', 'true')
# The statistics HistoryBuffer pickles by reference: its __getstate__ saves the class-level
# ``_statistics_methods`` dict, whose defaults are these methods (pickled as
# ``getattr(HistoryBuffer, name)`` since protocol 2 cannot name a method directly).
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
# numpy's plain numeric dtypes: what logged scalars and history buffers can hold.
_NUMPY_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64')
_NUMPY_DTYPES += ('float16', 'float32', 'float64')


class CheckpointError(Exception):
    """A checkpoint this package cannot use. The message is one line: the problem and the fix."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """The file needs more than tensors and the types of mmengine's checkpoints to unpickle."""


class CorruptCheckpointError(CheckpointError, RuntimeError):
    """The file is not a readable torch checkpoint (empty, truncated, or not a checkpoint)."""


class CheckpointLayoutError(CheckpointError, KeyError):
    """The checkpoint's keys are not the ones expected (another model, or another layout)."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument; the message reads better as it is.
        return str(self.args[0]) if self.args else ''


class CheckpointArchError(CheckpointError, ValueError):
    """The checkpoint's weights have the shapes of another architecture."""


def _history_buffer_method(owner: Any, name: str) -> Callable:
    """The only ``getattr`` an mmengine checkpoint needs, and nothing more: a default statistics
    method of ``HistoryBuffer``. Allow-listing ``builtins.getattr`` itself would let a file
    reach any attribute of any object it can build."""
    if owner is not HistoryBuffer or name not in _HISTORY_BUFFER_METHODS:
        raise pickle.UnpicklingError(
            f'getattr({getattr(owner, "__name__", type(owner).__name__)}, {name!r}) is not '
            f'allowed: only HistoryBuffer.{{{",".join(_HISTORY_BUFFER_METHODS)}}}'
        )
    return getattr(HistoryBuffer, name)


def checkpoint_safe_globals() -> list[Callable | tuple[Callable, str]]:
    """The globals, beyond torch's defaults, that checkpoints saved by mmengine's Runner hold.

    Measured on checkpoints saved by ``CheckpointHook`` for the toy mmengine model and for
    DFvT's mmpretrain classifier, mmdet Mask R-CNN and mmseg UperNet (``meta``, ``state_dict``,
    ``message_hub``, ``optimizer``, ``param_schedulers``): the message hub's ``HistoryBuffer``
    with its statistics methods, numpy arrays, dtypes and scalars. ``collections.Counter``
    (mmdet's) and ``_codecs.encode`` are in torch's defaults. numpy 1.x pickles its helpers
    under ``numpy.core``, numpy 2.x under ``numpy._core``: both names are listed so files from
    either load. The authors' released weights are plain tensor dicts and need none of these.
    """
    # The functions numpy's own pickles call (whatever module this numpy keeps them in).
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    names = [
        (func, f'{module}.{func.__name__}')
        for func in (reconstruct, scalar)
        for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
    ]
    # A dtype is built by calling np.dtype, then given its state: torch checks the state's
    # receiver by its class, which for numpy >= 1.25 is one class per dtype (Float64DType, ...).
    dtype_classes = [type(np.dtype(t)) for t in _NUMPY_DTYPES]
    return [
        HistoryBuffer,
        (_history_buffer_method, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        *dict.fromkeys(dtype_classes),
        *names,
    ]


def trusts_all_checkpoints() -> bool:
    """Whether the user set ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` (torch's truthy values)."""
    return os.environ.get(TRUST_ENV, '0').lower() in _TRUE


@contextlib.contextmanager
def _checkpoint_globals() -> Iterator[None]:
    # torch's safe_globals removes its globals on exit; leave out those the user had allowed
    # already, so that their own allow-list is the same after this call as before.
    already = set(torch.serialization.get_safe_globals())
    extra = [g for g in checkpoint_safe_globals() if g not in already]
    with torch.serialization.safe_globals(extra):
        yield


def _weights_only_reason(message: str) -> str:
    """The part of torch's multi-line weights_only error that names what was refused."""
    found = re.search(r'GLOBAL (\S+)', message)
    if found:
        return f'it calls {found.group(1)}'
    found = re.search(r'WeightsUnpickler error:\s*(\S[^\n]*)', message)
    if found:
        return f'torch: {found.group(1).strip()}'
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return f'torch: {lines[-2] if len(lines) > 1 else message.strip()}'


# torch's messages for files that are not (whole) checkpoints: a zip it cannot read, a legacy
# file with the wrong magic number, or one that ends early.
_CORRUPT = re.compile(r'PytorchStreamReader|magic number|unexpected EOF|corrupt', re.IGNORECASE)


def _looks_like_torch_save(filename: str) -> bool:
    """Whether the file starts as torch.save's files do: a zip archive, or (the legacy format)
    a pickle of protocol 2 or later. Tells a foreign file from a pickle that torch refused."""
    with open(filename, 'rb') as f:
        head = f.read(4)
    return head == b'PK\x03\x04' or head[:1] == pickle.PROTO


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """Load a local checkpoint with ``weights_only=True`` and mmengine's types allow-listed.

    The name is mmengine's: :class:`mmengine.runner.CheckpointLoader` logs the backend from it.

    Args:
        filename: Path of the checkpoint file (``~`` is expanded).
        map_location: As for :func:`torch.load`.

    Returns:
        What the file holds.

    Raises:
        FileNotFoundError: There is no file at ``filename``.
        UnsafeCheckpointError: The file needs globals beyond mmengine's checkpoint types (it
            could run code when unpickled); the message names them and the opt-in.
        CorruptCheckpointError: The file is empty, truncated or not a torch checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if trusts_all_checkpoints():
        print_log(
            f'{TRUST_ENV} is set: loading {filename} with weights_only=False (it can run code)',
            logger='current',
        )
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        with _checkpoint_globals():
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if 'Weights only load failed' not in str(e) or not _looks_like_torch_save(filename):
            raise CorruptCheckpointError(
                f'{filename} is not a torch checkpoint (neither a zip archive nor a pickle, as '
                f'torch.save writes); check the path, or download or save it again'
            ) from None
        raise UnsafeCheckpointError(
            f'{filename}: refused to load it ({_weights_only_reason(str(e))}): it holds more '
            f'than weights and the types of mmengine checkpoints, and unpickling it could run '
            f'code. Only if you trust the file, set {TRUST_ENV}=1 to load it anyway.'
        ) from None
    except (EOFError, KeyError) as e:
        # What torch's legacy unpickler raises on an empty or foreign file (KeyError: an
        # unknown opcode byte).
        detail = f'{type(e).__name__}: {e}' if str(e) else type(e).__name__
        raise CorruptCheckpointError(
            f'{filename} is not a torch checkpoint (empty, truncated or another format; '
            f'{detail}); check the path, or download or save it again'
        ) from None
    except RuntimeError as e:
        if not _CORRUPT.search(str(e)):
            raise  # e.g. CUDA tensors on a machine without CUDA: torch's message says it all
        first = str(e).strip().splitlines()[0].split('. ')[0]
        raise CorruptCheckpointError(
            f'{filename} is truncated or corrupt ({first}); download or save it again'
        ) from None
    except OSError as e:
        # torch's zip reader on a zip archive cut short at some points: "Invalid argument".
        if not _looks_like_torch_save(filename):
            raise
        raise CorruptCheckpointError(
            f'{filename} is truncated or corrupt ({e.strerror or e}); download or save it again'
        ) from None


def unwrap_state_dict(checkpoint: Mapping) -> Mapping:
    """The weights of a loaded checkpoint: mmengine's (under ``state_dict``), the authors' (under
    ``model``), or a bare state dict as it is."""
    for key in ('state_dict', 'model'):
        value = checkpoint.get(key) if isinstance(checkpoint, Mapping) else None
        if isinstance(value, Mapping):
            return value
    return checkpoint
