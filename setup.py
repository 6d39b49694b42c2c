"""Packaging for mmseg-al (import name ``mmseg_al``).

torch is deliberately not a requirement: it is the user's choice of build
(CPU, a CUDA version). ``tools/install.sh`` installs the tested torch and
builds mmcv with its compiled ops against it.
"""
from setuptools import find_packages, setup


#: The web annotator's server (``pip install mmseg-al[annotate]``).
ANNOTATE_REQUIRES = ['starlette', 'uvicorn']


def read_version() -> str:
    namespace = {}
    with open('mmseg_al/version.py', encoding='utf-8') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmseg-al',
    version=read_version(),
    description='Low-budget pixel active learning (two-stage eDALD) '
    'for MMSegmentation',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmseg_al', 'mmseg_al.*']),
    # the web annotator's page
    package_data={'mmseg_al.annotation': ['static/*']},
    python_requires='>=3.9',
    install_requires=[
        'mmengine==0.10.7',
        'mmsegmentation==1.2.2',
        'mmcv==2.1.0',
        'guided-diffusion-sdk==1.0.0',
        'ftfy',
        'regex',
        'numpy',
        'numba>=0.60',
        'scipy',
        # the superpixels of region expansion
        'scikit-image',
        'opencv-python-headless',
        'tqdm',
        'matplotlib',
    ],
    extras_require={
        # httpx2: Starlette's TestClient; selenium: the browser test
        'tests':
        ['pytest', 'cityscapesscripts', 'httpx2', 'selenium'] +
        ANNOTATE_REQUIRES,
        'converters': ['cityscapesscripts'],
        'annotate': ANNOTATE_REQUIRES,
    },
    license='Apache-2.0',
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
