"""Write one of the built-in toy datasets (shapes) in the layout of ImageNet, COCO or ADE20K.

The writers are :mod:`dfvt_mm.toy.data`; each option below is an argument of one of them, with
its default.

Example:
    python tools/data/make_toy_dataset.py imagenet data/toy_imagenet
    python tools/data/make_toy_dataset.py coco data/toy_coco --train 16 --val 4
    python tools/data/make_toy_dataset.py ade20k data/toy_ade20k --max-overlap 0.2
"""

import argparse
import inspect
import re

from dfvt_mm.toy import write_ade20k, write_classification, write_coco

WRITERS = {'imagenet': write_classification, 'coco': write_coco, 'ade20k': write_ade20k}


def add_writer_options(parser: argparse.ArgumentParser, writer) -> None:
    """One ``--option`` per argument of ``writer`` (after ``out``), typed and documented by its
    default and its docstring."""
    docs = dict(re.findall(r'^\s+(\w+): (.+)$', inspect.getdoc(writer), re.M))
    for name, param in list(inspect.signature(writer).parameters.items())[1:]:
        default = param.default
        kind = type(default[0]) if isinstance(default, tuple) else type(default)
        parser.add_argument(
            '--' + name.replace('_', '-'),
            type=kind,
            nargs=len(default) if isinstance(default, tuple) else None,
            help=f'{docs.get(name, "")} (default: {default})',
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    datasets = parser.add_subparsers(dest='dataset', required=True)
    for name, writer in WRITERS.items():
        sub = datasets.add_parser(name, help=inspect.getdoc(writer).splitlines()[0])
        sub.add_argument('out', help='dataset root to write, e.g. data/toy_' + name)
        add_writer_options(sub, writer)
    args = vars(parser.parse_args())
    writer, out = WRITERS[args.pop('dataset')], args.pop('out')
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items() if v is not None}
    print(f'{out}: {writer(out, **options)}')


if __name__ == '__main__':
    main()
