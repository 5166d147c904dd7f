"""Experiments above the engine and the evaluation: ablation sweeps (sweep_spec.py reads and plans a sweep, sweep.py
trains and evaluates every row and writes the table). Nothing below this package imports it."""
