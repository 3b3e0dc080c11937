import re
import shutil
import sys
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
# What `mim` reads from an installed package's `.mim` folder: `mim search dfvt_mm` the model index
# (and through it configs/metafiles), `mim train/test/run dfvt_mm` the configs and tools.
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def add_mim_extension() -> None:
    """Put MIM_FILES into dfvt_mm/.mim: symlinks for an editable install or the checkout's own
    metadata (``egg_info``, what tools/bootstrap.sh runs; they follow the checkout), copies when
    a wheel or sdist is built (those commands run after egg_info, replacing the links)."""
    if {'bdist_wheel', 'sdist', 'build', 'install'} & set(sys.argv):
        mode = 'copy'
    elif {'develop', 'editable_wheel', 'egg_info'} & set(sys.argv):
        mode = 'symlink'
    else:
        return
    mim = HERE / 'dfvt_mm' / '.mim'
    mim.mkdir(exist_ok=True)
    for name in MIM_FILES:
        src, dst = HERE / name, mim / name
        if dst.is_symlink() or dst.is_file():
            dst.unlink()
        elif dst.is_dir():
            shutil.rmtree(dst)
        if mode == 'symlink':
            dst.symlink_to(Path('..', '..', name))
        elif src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


def parse_requirements(name: str) -> list[str]:
    """Requirement lines of requirements/<name>.txt, without comments."""
    lines = (HERE / 'requirements' / f'{name}.txt').read_text().splitlines()
    return [line.split('#')[0].strip() for line in lines if line.split('#')[0].strip()]


version = re.search(r"__version__ = '(.+)'", (HERE / 'dfvt_mm' / 'version.py').read_text()).group(1)

add_mim_extension()
setup(
    name='dfvt_mm',
    version=version,
    description='Doubly-Fused ViT (DFvT) backbone for OpenMMLab 2.0: mmpretrain, mmdet, mmseg',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    keywords='computer vision, vision transformer, backbone, openmmlab',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.9',
    # mmcv is built from source with its ops (see tools/bootstrap.sh), so it is listed in
    # requirements/mminstall.txt and added here as a plain requirement.
    install_requires=parse_requirements('runtime') + parse_requirements('mminstall'),
    extras_require={
        'tests': parse_requirements('tests'),
        'optional': parse_requirements('optional'),
        'mim': parse_requirements('mim'),
        'build': parse_requirements('build'),
        # mmdeploy itself is installed with --no-deps (see requirements/deploy.txt).
        'deploy': parse_requirements('deploy'),
    },
    include_package_data=True,
    package_data={'dfvt_mm': ['.mim/model-index.yml', '.mim/configs/**/*', '.mim/tools/**/*']},
    license='Apache License 2.0',
    zip_safe=False,
)
