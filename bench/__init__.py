"""Measurements of the package (not tests): speed, tuning on train splits, result tables.

Every script runs both ways from the repository root: ``.venv/bin/python bench/NAME.py ...`` and
``.venv/bin/python -m bench.NAME ...``. Every JSON a bench writes goes through :func:`bench.provenance.write_json`,
which writes it atomically with a ``provenance`` record (command line, git commit, machine, load, dates).

This file imports nothing: a script run by its path imports the package ``bench`` with the repository root on
``sys.path`` only for that moment (see the top of each script), so ``baiseg`` is still the one the environment gives.
"""
