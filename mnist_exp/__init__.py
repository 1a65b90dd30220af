"""mnist_exp: config-driven experiments for image classifiers on MNIST-style data."""

__version__ = "0.1.0"
