"""Keras Tuner searches from config: `mnist-exp-tune` (see mnist_exp.tuning.search)."""
