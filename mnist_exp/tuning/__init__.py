"""Keras Tuner searches from config: `python -m mnist_exp.tune` (see mnist_exp.tuning.search)."""
