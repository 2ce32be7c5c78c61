"""Command-line interface: a thin layer over the Python API.

``main.py`` only builds the argument parser (no heavy imports, so ``--help`` is
instant); each command's work lives in its own module, imported when it runs.
"""
