"""The benchmark's picture: measured images/s against the paper's ImageNet top-1, as the paper's
Fig. 1 (the paper plots its own GPU throughput)."""

from __future__ import annotations

from collections.abc import Sequence

from ..utils.metafile import ModelRecord

PLOT_SIZE, PLOT_DPI = (7, 5), 100  # inches, dots per inch: a 700x500 picture


def plot_speed_accuracy(
    results: Sequence[dict], records: Sequence[ModelRecord], path: str, title: str
) -> bool:
    """Eager fp32 images/s of each classifier at the largest batch measured (log scale) against
    its paper top-1: the peers as labelled points, DFvT as a line through T/S/B.

    Returns:
        Whether there was anything to plot (classification results).
    """
    import matplotlib

    matplotlib.use('Agg')  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    top1 = {r.key: r.metrics.get('Top 1 Accuracy') for r in records if r.task == 'cls'}
    points = [r for r in results if r['task'] == 'cls' and r['mode'] == 'eager']
    if not points:
        return False
    batch = max(r['batch'] for r in points)
    points = [r for r in points if r['batch'] == batch and top1.get(r['model']) is not None]
    fig, ax = plt.subplots(figsize=PLOT_SIZE, dpi=PLOT_DPI)
    peers = [r for r in points if not r['ours']]
    if peers:
        xs, ys = [r['images_per_s'] for r in peers], [top1[r['model']] for r in peers]
        ax.scatter(xs, ys, s=45, color='tab:blue', label='peers (mmpretrain)', zorder=2)
        for r, x, y in zip(peers, xs, ys):
            ax.annotate(r['label'], (x, y), xytext=(6, -4), textcoords='offset points')
    ours = [r for r in points if r['ours']]
    if ours:
        xs, ys = [r['images_per_s'] for r in ours], [top1[r['model']] for r in ours]
        ax.plot(xs, ys, '-*', color='tab:red', markersize=16, lw=2, label='DFvT', zorder=3)
        for r, x, y in zip(ours, xs, ys):
            ax.annotate(
                r['label'], (x, y), xytext=(8, 5), textcoords='offset points', color='tab:red'
            )
    ax.set_xscale('log')  # the models span an order of magnitude in speed
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.25, y=0.12)  # room for the labels right of the outermost points
    ax.set_xlabel(f'measured throughput, eager fp32, batch {batch} (images/s, log scale)')
    ax.set_ylabel('ImageNet-1K top-1 (%), from the paper (Table 1)')
    ax.set_title(title, fontsize=10)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(loc='best')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
