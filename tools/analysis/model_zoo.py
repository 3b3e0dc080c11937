"""Print the model zoo (``model-index.yml``): the README's table, or check the parameter and FLOP
counts it records against this code (:mod:`dfvt_mm.analysis.model_zoo`).

Examples:
    python tools/analysis/model_zoo.py --markdown          # the README's table
    python tools/analysis/model_zoo.py --check --tasks cls # recount (det/seg: minutes each)
"""

import argparse
import sys

from tabulate import tabulate

import dfvt_mm  # noqa: F401  (registers DFvT and the attention FLOP handle)
from dfvt_mm.analysis.model_zoo import HEADERS, check_measured, zoo_markdown, zoo_rows
from dfvt_mm.utils.metafile import load_models
from dfvt_mm.utils.tasks import TASKS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--markdown', action='store_true', help="print the README's table")
    parser.add_argument(
        '--check', action='store_true', help='recount parameters and FLOPs; exit 1 on a mismatch'
    )
    parser.add_argument('--tasks', nargs='+', choices=list(TASKS))
    args = parser.parse_args()
    records = [r for r in load_models() if not args.tasks or r.task in args.tasks]
    if args.markdown:
        print(zoo_markdown(records))
        return 0
    if not args.check:
        print(tabulate(zoo_rows(records), headers=HEADERS, disable_numparse=True))
        return 0
    bad = 0
    for row in check_measured(records):
        bad += not row['ok']
        print(
            f'{row["name"]}: {"ok" if row["ok"] else "DIFFERS"} at {row["shape"][0]}x'
            f'{row["shape"][1]}: params {row["params"]} (recorded {row["recorded_params"]}), '
            f'FLOPs {row["flops"]} (recorded {row["recorded_flops"]})',
            flush=True,
        )
    if bad:
        print(f'{bad} of {len(records)} differ: update Measured Parameters / FLOPs in the metafile')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
