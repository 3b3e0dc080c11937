"""DFvT's checkpoints, outside the model: the authors' layout and its conversion, the arch a state
dict holds, and the checks that make a wrong checkpoint fail in one line.

- :func:`convert_official_checkpoint`: the authors' keys (github.com/ginobilinie/DFvT releases,
  and its Object-Detection branch) to this package's, a pure function; the converter tool
  ``tools/model_converters/dfvt_official_to_mm.py`` is a command line over it.
- :func:`infer_arch` and :func:`describe_arch`: the arch of a state dict, from its shapes.
- :func:`prepare_state_dict`: what :class:`~.dfvt.DFvT` does with every state dict it loads
  (its ``_load_from_state_dict``): converts the authors' keys, refuses another arch.
- :func:`check_pretrained`: what ``DFvT.init_weights`` checks before mmengine's
  ``PretrainedInit`` loads a ``Pretrained`` ``init_cfg``, which otherwise logs what does not fit
  (or asserts, for a prefix no key has) and carries on.
"""

from __future__ import annotations

import os.path as osp
import re
from collections import OrderedDict
from collections.abc import Mapping

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor, nn

from ...utils.checkpoint import (
    CheckpointArchError,
    CheckpointError,
    CheckpointLayoutError,
    unwrap_state_dict,
)

# DFvT's stages, in both layouts (the authors' layers.0-3, this package's stages.0-3).
NUM_STAGES = 4

# (authors' key pattern, this package's key); BN sub-keys follow their conv.
_CONV_BN = {
    # stem
    r'patch_embed\.proj1\.': 'patch_embed.0.conv.',
    r'patch_embed\.norm1\.': 'patch_embed.0.bn.',
    r'patch_embed\.proj2\.': 'patch_embed.1.conv.',
    r'patch_embed\.norm\.': 'patch_embed.1.bn.',
    # conv block: Sequential(conv, bn, act) x3 -> local_conv.{0,1,2}
    r'convlayers\.(\d)\.conv1x1_1\.0\.': r'stages.\1.local_conv.0.conv.',
    r'convlayers\.(\d)\.conv1x1_1\.1\.': r'stages.\1.local_conv.0.bn.',
    r'convlayers\.(\d)\.conv1x1_1\.3\.': r'stages.\1.local_conv.1.conv.',
    r'convlayers\.(\d)\.conv1x1_1\.4\.': r'stages.\1.local_conv.1.bn.',
    r'convlayers\.(\d)\.conv1x1_1\.6\.': r'stages.\1.local_conv.2.conv.',
    r'convlayers\.(\d)\.conv1x1_1\.7\.': r'stages.\1.local_conv.2.bn.',
    r'convlayers\.(\d)\.conv1\.0\.': r'stages.\1.context_conv.0.conv.',
    r'convlayers\.(\d)\.conv1\.1\.': r'stages.\1.context_conv.0.bn.',
    r'convlayers\.(\d)\.conv1x1_2\.0\.': r'stages.\1.context_conv.1.conv.',
    r'convlayers\.(\d)\.conv1x1_2\.1\.': r'stages.\1.context_conv.1.bn.',
    r'multiresolution_conv\.(\d)\.0\.': r'stages.\1.spatial_conv.0.conv.',
    r'multiresolution_conv\.(\d)\.1\.': r'stages.\1.spatial_conv.0.bn.',
    r'multiresolution_conv\.(\d)\.2\.': r'stages.\1.spatial_conv.1.conv.',
    r'multiresolution_conv\.(\d)\.3\.': r'stages.\1.spatial_conv.1.bn.',
    # transformer blocks
    r'layers\.(\d)\.blocks\.(\d+)\.select\.fc_spatial\.': r'stages.\1.blocks.\2.dane.spatial.',
    r'layers\.(\d)\.blocks\.(\d+)\.select\.fc_channel\.': r'stages.\1.blocks.\2.dane.channel.',
    r'layers\.(\d)\.blocks\.(\d+)\.mlp\.fc1\.': r'stages.\1.blocks.\2.ffn.layers.0.0.',
    r'layers\.(\d)\.blocks\.(\d+)\.mlp\.fc2\.': r'stages.\1.blocks.\2.ffn.layers.1.',
    r'layers\.(\d)\.blocks\.(\d+)\.(norm1|norm2|attn\.qkv|attn\.proj)\.': (
        r'stages.\1.blocks.\2.\3.'
    ),
    r'layers\.(\d)\.blocks\.(\d+)\.attn\.relative_position_bias_table$': (
        r'stages.\1.blocks.\2.attn.relative_position_bias_table'
    ),
    r'layers\.(\d)\.downsample\.(norm|reduction)\.': r'stages.\1.downsample.\2.',
    # outputs
    r'norm(\d)\.': r'norm\1.',
    r'conv1x1layers\.(\d)\.': r'fuse\1.',
}
# Derived buffers the authors saved; this package computes them per call (window geometry).
_DROPPED = re.compile(r'.*(relative_position_index|attn_mask)$')
_RULES = [(re.compile('^' + k), v) for k, v in _CONV_BN.items()]
# Per layout, the keys the arch is read from: the stem's last conv (embed_dims out), a block
# (stage i, block j), stage i's first relative position table (heads) and the first MLP
# (hidden = mlp_ratio * embed_dims).
_ARCH_KEYS = {
    'official': (
        'patch_embed.proj2.weight',
        re.compile(r'layers\.(\d)\.blocks\.(\d+)\.'),
        'layers.{}.blocks.0.attn.relative_position_bias_table',
        'layers.0.blocks.0.mlp.fc1.weight',
    ),
    'dfvt_mm': (
        'patch_embed.1.conv.weight',
        re.compile(r'stages\.(\d)\.blocks\.(\d+)\.'),
        'stages.{}.blocks.0.attn.relative_position_bias_table',
        'stages.0.blocks.0.ffn.layers.0.0.weight',
    ),
}


def is_official_layout(state_dict: dict[str, Tensor]) -> bool:
    """Whether a state dict uses the authors' key names."""
    return any(k.startswith(('patch_embed.proj1.', 'layers.0.blocks.')) for k in state_dict)


def is_dfvt_mm_layout(state_dict: dict[str, Tensor]) -> bool:
    """Whether a state dict has this package's DFvT keys (bare, or under ``backbone.``)."""
    stem = _ARCH_KEYS['dfvt_mm'][0]
    return stem in state_dict or 'backbone.' + stem in state_dict


def infer_arch(state_dict: dict[str, Tensor]) -> dict:
    """The arch dict of a DFvT state dict, read from its shapes.

    Args:
        state_dict: In the authors' layout or this package's (bare or under ``backbone.``).

    Raises:
        CheckpointLayoutError: It is not a DFvT state dict (no stem weights).
    """
    layout = 'official' if is_official_layout(state_dict) else 'dfvt_mm'
    stem, block, table, fc1 = _ARCH_KEYS[layout]
    if layout == 'dfvt_mm' and stem not in state_dict:
        state_dict = {k[9:]: v for k, v in state_dict.items() if k.startswith('backbone.')}
    if stem not in state_dict:
        raise CheckpointLayoutError(
            f'not a DFvT checkpoint: it has no stem weights ({stem} or '
            f'{_ARCH_KEYS["dfvt_mm"][0]}); its keys start with '
            f'{sorted({k.split(".")[0] for k in state_dict})[:8]}'
        )
    C = state_dict[stem].shape[0]
    blocks = [set() for _ in range(NUM_STAGES)]
    for key in state_dict:
        if (m := block.match(key)) and int(m.group(1)) < NUM_STAGES:
            blocks[int(m.group(1))].add(int(m.group(2)))
    heads = [state_dict.get(table.format(i)) for i in range(NUM_STAGES)]
    hidden = state_dict.get(fc1)
    return dict(
        embed_dims=C,
        depths=[len(b) for b in blocks],
        num_heads=[t.shape[1] if t is not None else 0 for t in heads],
        mlp_ratio=hidden.shape[0] / C if hidden is not None else 0.0,
    )


def _arch_key(arch: dict) -> tuple:
    return (
        int(arch['embed_dims']),
        tuple(arch['depths']),
        tuple(arch['num_heads']),
        float(arch['mlp_ratio']),
    )


def describe_arch(arch: dict) -> str:
    """An arch in a few words: ``'tiny (embed 48, depths 1-1-2-1)'``, or the full custom dict."""
    from .dfvt import DFvT  # here: the model imports this module for its load hook

    depths = '-'.join(str(d) for d in arch['depths'])
    for name, settings in DFvT.arch_zoo.items():
        if len(name) > 1 and _arch_key(settings) == _arch_key(arch):
            return f'{name} (embed {arch["embed_dims"]}, depths {depths})'
    heads = '-'.join(str(h) for h in arch['num_heads'])
    return (
        f'custom (embed {arch["embed_dims"]}, depths {depths}, heads {heads}, '
        f'mlp_ratio {float(arch["mlp_ratio"]):g})'
    )


def _arch_or_none(state_dict: dict[str, Tensor]) -> dict | None:
    try:
        return infer_arch(state_dict)
    except CheckpointLayoutError:
        return None


def convert_official_checkpoint(state_dict: dict[str, Tensor]) -> tuple[dict[str, Tensor], str]:
    """Map an authors' DFvT state dict to this package's keys (a pure function).

    Classification checkpoints (with ``head``) become mmpretrain ``ImageClassifier`` state dicts
    (``backbone.*``, ``head.fc.*``); detection backbones (with ``norm0``-``norm3``) become
    ``backbone.*``. The result is checked against a DFvT built from the checkpoint's own shapes.

    Args:
        state_dict: The authors' state dict (the ``model`` entry of their ``.pth`` files).

    Returns:
        The converted state dict and the task: ``'classification'`` or ``'detection'``.

    Raises:
        CheckpointLayoutError: (a ``KeyError``) already converted, keys that map to nothing, or
            DFvT weights the checkpoint lacks; the first few named, the count given.
        CheckpointArchError: (a ``ValueError``) weights whose shapes do not fit the inferred arch.
    """
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointLayoutError(
            f'expected a state dict of tensors, got {type(state_dict).__name__} '
            f'{"(empty)" if isinstance(state_dict, dict) else ""}'.strip()
        )
    if is_dfvt_mm_layout(state_dict):
        raise CheckpointLayoutError(
            'the checkpoint is already in dfvt_mm layout: load it directly (load_from, or '
            "init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')), no "
            'conversion needed'
        )
    task = 'classification' if 'head.weight' in state_dict else 'detection'
    backbone, unknown = {}, []
    for key, value in state_dict.items():
        if _DROPPED.match(key):
            continue
        if task == 'classification' and key in ('head.weight', 'head.bias'):
            continue
        if key.startswith('norm.'):  # classification's final norm is output 3's norm
            backbone['norm3.' + key[len('norm.') :]] = value
            continue
        for pattern, target in _RULES:
            if pattern.match(key):
                backbone[pattern.sub(target, key, count=1)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointLayoutError(
            f"{len(unknown)} of the checkpoint's {len(state_dict)} keys are not DFvT keys, "
            f"e.g. {unknown[:5]}: is it one of the authors' DFvT checkpoints?"
        )

    arch = infer_arch(state_dict)
    empty = [i for i in range(NUM_STAGES) if not arch['depths'][i] or not arch['num_heads'][i]]
    if empty:
        raise CheckpointLayoutError(
            f'the checkpoint has no transformer blocks in stage(s) {empty} '
            f'(layers.{empty[0]}.blocks.*): it is not a whole DFvT'
        )
    from .dfvt import DFvT  # here: the model imports this module for its load hook

    out_indices = (3,) if task == 'classification' else (0, 1, 2, 3)
    with torch.device('meta'):
        reference = DFvT(arch=arch, out_indices=out_indices).state_dict()
    missing = sorted(set(reference) - set(backbone))
    extra = sorted(set(backbone) - set(reference))
    if missing or extra:
        raise CheckpointLayoutError(
            f'the checkpoint does not match a DFvT {describe_arch(arch)} {task} model: '
            f'missing {len(missing)} keys {missing[:3]}, unexpected {len(extra)} {extra[:3]}'
        )
    wrong = [
        f'{k} {tuple(v.shape)} != {tuple(reference[k].shape)}'
        for k, v in backbone.items()
        if v.shape != reference[k].shape
    ]
    if wrong:
        raise CheckpointArchError(
            f'{len(wrong)} weights do not fit the arch read from the checkpoint '
            f'({describe_arch(arch)}), e.g. {wrong[:3]}'
        )

    converted = OrderedDict(('backbone.' + k, v) for k, v in backbone.items())
    if task == 'classification':
        converted['head.fc.weight'] = state_dict['head.weight']
        converted['head.fc.bias'] = state_dict['head.bias']
    return converted, task


def _backbone(converted: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The backbone's part of a converted state dict, without its ``backbone.`` prefix."""
    return {k[len('backbone.') :]: v for k, v in converted.items() if k.startswith('backbone.')}


def prepare_state_dict(state_dict: dict, prefix: str, arch: dict) -> None:
    """Ready the weights that a DFvT of ``arch`` finds under ``prefix``, in place.

    Called by ``DFvT._load_from_state_dict`` on every load path, before any weight is copied:

    - Weights in the authors' layout are converted (:func:`convert_official_checkpoint`), also
      when they are still under their file's ``model`` key: mmengine's ``load_checkpoint``
      passes on a file without ``state_dict`` as it is (``init_cfg`` without ``prefix``).
    - A whole DFvT of another arch is refused in one line; mmengine's non-strict loading would
      log a size mismatch per tensor and carry on with a half-loaded model.

    Args:
        state_dict: The state dict being loaded (its keys under ``prefix`` are the backbone's).
        prefix: Where the backbone's keys start (``''``, or e.g. ``'backbone.'``).
        arch: The model's arch dict.

    Raises:
        CheckpointLayoutError: Authors' weights that cannot be converted.
        CheckpointArchError: The weights are a whole DFvT of another arch.
    """
    own = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    weights = unwrap_state_dict(own)
    if is_official_layout(weights):
        print_log("DFvT: converting weights in the authors' layout as they load", logger='current')
        weights = _backbone(convert_official_checkpoint(dict(weights))[0])
    if weights is not own:
        for key in own:
            del state_dict[prefix + key]
        state_dict.update((prefix + k, v) for k, v in weights.items())
    theirs = _arch_or_none(weights) if is_dfvt_mm_layout(weights) else None
    complete = theirs is not None and all(theirs['depths']) and all(theirs['num_heads'])
    if complete and _arch_key(theirs) != _arch_key(arch):
        raise CheckpointArchError(
            f'the checkpoint is DFvT {describe_arch(theirs)}, the model is DFvT '
            f"{describe_arch(arch)}: use the config of the checkpoint's arch, or a checkpoint "
            f'of this one'
        )


def check_pretrained(model: nn.Module, init_cfg: dict) -> dict:
    """Check a ``Pretrained`` ``init_cfg`` against a DFvT before mmengine's ``PretrainedInit``
    loads it; returns the ``init_cfg`` to load it with.

    An authors' checkpoint has no ``backbone.`` prefix: it is loaded without one, and converted
    as it loads (:func:`prepare_state_dict`), so that the same ``init_cfg`` takes a converted
    file or the authors' own. Output layers (``norm{i}``, ``fuse{i}``) may be missing (an
    ImageNet checkpoint has no detection outputs); keys of layers the model does not build may
    be there.

    Args:
        model: The DFvT to initialize.
        init_cfg: Its ``dict(type='Pretrained', checkpoint=..., prefix=...)``.

    Raises:
        FileNotFoundError: There is no such local file; the message says how to make one.
        CheckpointLayoutError: No key has the prefix, or stem or stage weights are missing.
        CheckpointArchError: The weights are those of another arch (the message names both).
    """
    path = init_cfg.get('checkpoint')
    if '://' not in str(path) and not osp.isfile(osp.expanduser(str(path))):
        raise FileNotFoundError(
            f"DFvT pretrained checkpoint {path!r} does not exist. Convert the authors' "
            f'ImageNet weights with `python tools/model_converters/dfvt_official_to_mm.py '
            f'SRC.pth {path}`, point the config at the file, or set init_cfg=None to train '
            f'from scratch.'
        )
    state_dict = unwrap_state_dict(_load_checkpoint(path, map_location='cpu'))
    prefix = init_cfg.get('prefix')
    if is_official_layout(state_dict):
        try:
            state_dict = _backbone(convert_official_checkpoint(dict(state_dict))[0])
        except CheckpointError as e:
            raise type(e)(f'{path}: {e}') from None
        init_cfg = {k: v for k, v in init_cfg.items() if k != 'prefix'}
    elif prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'  # as PretrainedInit reads it
        stripped = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not stripped:
            raise CheckpointLayoutError(
                f'No key of {path} starts with prefix {prefix!r}; its keys start with '
                f'{sorted({k.split(".")[0] for k in state_dict})[:8]}: set init_cfg.prefix '
                f'to the one before the backbone'
            )
        state_dict = stripped
    _check_weights(model, state_dict, path)
    return init_cfg


def _check_weights(model: nn.Module, state_dict: Mapping[str, Tensor], source: str) -> None:
    """Raise unless ``state_dict`` has every stem and stage weight of ``model``, in its shapes."""
    own = model.state_dict()
    wrong = [k for k, v in state_dict.items() if k in own and v.shape != own[k].shape]
    missing = [k for k in own if k not in state_dict]
    required = [k for k in missing if not re.match(r'(norm|fuse)\d\.', k)]
    ours = describe_arch(model.arch_settings)
    if wrong or required:
        theirs = _arch_or_none(state_dict)
        if theirs is not None and _arch_key(theirs) != _arch_key(model.arch_settings):
            raise CheckpointArchError(
                f'{source} is DFvT {describe_arch(theirs)}, the model is DFvT {ours}: '
                f"use the config of the checkpoint's arch, or a checkpoint of this one"
            )
    if wrong:
        k = wrong[0]
        raise CheckpointArchError(
            f'{source}: {len(wrong)} weights do not fit DFvT {ours}, e.g. {k} '
            f'{tuple(state_dict[k].shape)} where the model has {tuple(own[k].shape)}: '
            f"use the config of the checkpoint's arch"
        )
    if required:
        hint = (
            " (its keys start with 'backbone.': set init_cfg.prefix='backbone.')"
            if any(k.startswith('backbone.') for k in state_dict)
            else ''
        )
        raise CheckpointLayoutError(
            f'{source} lacks {len(required)} of the {len(own)} weights of DFvT {ours}, e.g. '
            f"{required[:3]}{hint}: is it a DFvT checkpoint? Convert the authors' checkpoints "
            f'with tools/model_converters/dfvt_official_to_mm.py'
        )
