"""The benchmark's tables (:mod:`.benchmark`'s results), with ``tabulate``: plain text for the
terminal, GitHub markdown for the README."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from .benchmark import MODES, mode_ratios
from .runtimes import LABELS

TASK_TITLES = {
    'cls': 'ImageNet classification',
    'det': 'Mask R-CNN + FPN (COCO)',
    'seg': 'UperNet (ADE20K)',
}
MIB = 2**20


def mode_title(mode: str, device: str) -> str:
    """A mode's column title (``amp`` is bf16 on the CPU, fp16 on a GPU)."""
    if mode == 'amp':
        return 'fp16 autocast' if device == 'cuda' else 'bf16 autocast'
    return {'eager': 'eager fp32', 'deploy': 'deploy (BN folded)', **LABELS}.get(mode, mode)


def fmt(value: float | None, digits: int = 2) -> str:
    """A number as the tables print it (``'-'`` where there is none)."""
    return '-' if value is None else f'{value:.{digits}f}'


def speed_table(results: Sequence[dict], task: str, batch: int, device: str, tablefmt: str) -> str:
    """One row per model: parameters, images/s of each mode (with its ratio to eager), peak
    memory in eager mode. ``n/a``: the mode does not apply (the json says why); ``-``: not
    run."""
    rows = [r for r in results if r['task'] == task and r['batch'] == batch]
    modes = [m for m in MODES if any(r['mode'] == m for r in rows)]
    ratios = mode_ratios(results)
    by_key = {(r['model'], r['mode']): r for r in rows}
    table = []
    for model in dict.fromkeys(r['model'] for r in rows):
        eager = by_key[(model, 'eager')]
        cells = [eager['label'], fmt(eager['params'] / 1e6)]
        for mode in modes:
            r = by_key.get((model, mode))
            if r is None:
                cells.append('-')
            elif 'n_a' in r:
                cells.append('n/a')
            elif mode == 'eager':
                cells.append(fmt(r['images_per_s']))
            else:
                ratio = ratios[(task, model, batch, mode)]
                cells.append(f'{r["images_per_s"]:.2f} ({ratio:.2f}x)')
        cells.append(fmt(eager.get('peak_memory', 0) / MIB, 1))
        table.append(cells)
    headers = ['model', 'params (M)'] + [mode_title(m, device) for m in modes]
    return tabulate(
        table, headers=[*headers, 'peak memory (MiB)'], tablefmt=tablefmt, disable_numparse=True
    )


def difference_table(
    results: Sequence[dict], task: str, batch: int, device: str, tablefmt: str
) -> str:
    """One row per model whose modes have output differences: each mode's largest logit
    difference to eager fp32 on the timed batch."""
    rows = [r for r in results if r['task'] == task and r['batch'] == batch and 'max_diff' in r]
    modes = [m for m in MODES if m != 'eager' and any(r['mode'] == m for r in rows)]
    by_key = {(r['model'], r['mode']): r for r in rows}
    table = [
        [
            next(r['label'] for r in rows if r['model'] == model),
            *(
                f'{by_key[(model, m)]["max_diff"]:.1e}' if (model, m) in by_key else '-'
                for m in modes
            ),
        ]
        for model in dict.fromkeys(r['model'] for r in rows)
        if any((model, m) in by_key for m in modes)
    ]
    headers = ['model'] + [mode_title(m, device) for m in modes]
    return tabulate(table, headers=headers, tablefmt=tablefmt, disable_numparse=True)


def ratio_table(ratios: Sequence[dict], task: str, batch: int, tablefmt: str) -> str:
    """DFvT / peer, eager: measured images/s and memory ratios beside the paper's; a ``*`` marks
    ratios that use a number the paper's text needed reading for."""
    rows = [
        [
            r['label'] + ('*' if r['paper_notes'] else ''),
            fmt(r['throughput_ratio']),
            fmt(r['paper_throughput_ratio']),
            fmt(r['memory_ratio']),
            fmt(r['paper_memory_ratio']),
        ]
        for r in ratios
        if r['task'] == task and r['batch'] == batch
    ]
    headers = ['DFvT / peer', 'images/s', 'paper', 'memory', 'paper']
    return tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True)


def report(
    results: Sequence[dict], ratios: Sequence[dict], device: str, markdown: bool = False
) -> str:
    """Every table of a run: per task and batch size, the speed table, then the ratios to the
    peers beside the paper's (GPU, fp32); footnotes for numbers the paper needed reading for."""
    tablefmt = 'github' if markdown else 'simple'
    blocks = []
    for task in TASK_TITLES:
        for batch in dict.fromkeys(r['batch'] for r in results if r['task'] == task):
            first = next(r for r in results if r['task'] == task and r['batch'] == batch)
            shape = 'x'.join(map(str, first['shape']))
            title = f'{TASK_TITLES[task]}, batch {batch}, {shape}'
            blocks.append(f'{title}, images/s (ratio to eager fp32):')
            blocks.append(speed_table(results, task, batch, device, tablefmt))
            if any(
                r['task'] == task
                and r['batch'] == batch
                and r['mode'] != 'eager'
                and 'max_diff' in r
                for r in results
            ):
                blocks.append(f'{title}, largest logit difference to eager fp32 (same batch):')
                blocks.append(difference_table(results, task, batch, device, tablefmt))
            if any(r['task'] == task and r['batch'] == batch for r in ratios):
                blocks.append(
                    f"{title}, DFvT / peer in eager fp32, measured and the paper's (2080 Ti, "
                    'fp32); images/s above 1: DFvT is faster, memory below 1: it needs less:'
                )
                blocks.append(ratio_table(ratios, task, batch, tablefmt))
    notes = sorted({n for r in ratios for n in r['paper_notes']})
    blocks += [f'\\* {n}.' if markdown else f'* {n}.' for n in notes]
    n_a = {(mode_title(r['mode'], device), r['n_a']) for r in results if 'n_a' in r}
    blocks += [f'n/a, {mode}: {reason}.' for mode, reason in sorted(n_a)]
    shown = {(r['task'], r['batch'], r['mode']) for r in results}
    done = {(r['task'], r['batch'], r['model'], r['mode']) for r in results}
    models = {(r['task'], r['batch'], r['model']) for r in results}
    if any(
        (t, b, m, mode) not in done
        for t, b, m in models
        for t2, b2, mode in shown
        if (t, b) == (t2, b2)
    ):
        blocks.append('-: not run (peers: `--peer-modes`).')
    return '\n\n'.join(blocks)


def _markers(name: str) -> tuple[str, str]:
    return f'<!-- {name}: begin -->', f'<!-- {name}: end -->'


def readme_block(text: str, name: str) -> str:
    """What stands between ``<!-- NAME: begin -->`` and ``<!-- NAME: end -->`` in ``text``
    (the README's generated parts), without the blank lines around it.

    Raises:
        ValueError: The markers are missing.
    """
    begin, end = _markers(name)
    if begin not in text or end not in text:
        raise ValueError(f'no {begin} ... {end} block in the README')
    return text.split(begin, 1)[1].split(end, 1)[0].strip('\n')


def readme_blocks(text: str) -> list[str]:
    """The names of the generated blocks in ``text``."""
    import re

    return re.findall(r'<!-- ([\w-]+): begin -->', text)


def replace_readme_block(text: str, name: str, content: str) -> str:
    """``text`` with the ``name`` block's content replaced (see :func:`readme_block`)."""
    readme_block(text, name)  # the markers are there
    begin, end = _markers(name)
    head, rest = text.split(begin, 1)
    return f'{head}{begin}\n{content.strip()}\n{end}{rest.split(end, 1)[1]}'


def precision_table(
    results: Sequence[dict], accuracy: Sequence[dict], device: str, tablefmt: str
) -> str:
    """One row per precision (eager fp32 and each runtime mode): DFvT's classifiers' images/s
    ratio to eager fp32 at each batch, and the toy models' metrics in that precision (PyTorch
    fp32 -> the runtime) with whether all of the accuracy limits hold."""
    from .precision import METRICS

    ours = [r for r in results if r['task'] == 'cls' and r['ours']]
    ratios = mode_ratios(results)
    models = list(dict.fromkeys((r['model'], r['label']) for r in ours))
    batches = list(dict.fromkeys(r['batch'] for r in ours))
    tasks = [t for t in METRICS if any(a['task'] == t for a in accuracy)]
    modes = [
        m
        for m in MODES
        if any(r['mode'] == m for r in ours) or any(a['mode'] == m for a in accuracy)
    ]
    modes = [m for m in modes if m == 'eager' or m in LABELS]
    acc = {(a['task'], a['mode']): a for a in accuracy}
    table = []
    for mode in modes:
        cells = [mode_title(mode, device)]
        for batch in batches:
            values = []
            for model, _ in models:
                ratio = 1.0 if mode == 'eager' else ratios.get(('cls', model, batch, mode))
                values.append(fmt(ratio))
            cells.append(' / '.join(values))
        holds = []
        for task in tasks:
            a = acc.get((task, mode))
            for key in METRICS[task]:
                if mode == 'eager':
                    # PyTorch fp32 on the same images, as every runtime's check measured it.
                    measured = [x for x in accuracy if x['task'] == task and 'pytorch' in x]
                    ref = measured[0]['pytorch'][key] if measured else None
                    cells.append(fmt(ref, 3 if ref is not None and ref < 1 else 1))
                elif a is None:
                    cells.append('-')
                elif 'n_a' in a:
                    cells.append('n/a')
                else:
                    digits = 3 if a['pytorch'][key] < 1 else 1
                    cells.append(f'{a["backend"][key]:.{digits}f}')
            if a is not None and 'passed' in a:
                holds.append(a['passed'])
        cells.append('-' if mode == 'eager' or not holds else ('yes' if all(holds) else 'no'))
        table.append(cells)
    labels = ' / '.join(label for _, label in models)
    headers = [
        'precision',
        *(f'{labels}, batch {b} (x eager)' for b in batches),
        *(f'toy {title}' for t in tasks for title in METRICS[t].values()),
        'accuracy holds',
    ]
    return tabulate(table, headers=headers, tablefmt=tablefmt, disable_numparse=True)
