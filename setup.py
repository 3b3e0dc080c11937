import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def parse_requirements(name: str) -> list[str]:
    """Requirement lines of requirements/<name>.txt, without comments."""
    lines = (HERE / 'requirements' / f'{name}.txt').read_text().splitlines()
    return [line.split('#')[0].strip() for line in lines if line.split('#')[0].strip()]


version = re.search(r"__version__ = '(.+)'", (HERE / 'dfvt_mm' / 'version.py').read_text()).group(1)

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
    license='Apache License 2.0',
    zip_safe=False,
)
