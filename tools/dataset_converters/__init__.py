"""Converters from the public raw dataset formats to the 256x256 mmseg layout.

Each module is also a script: ``python tools/dataset_converters/camvid.py
RAW_ROOT [-o OUT_DIR] [--nproc N]``.
"""
