"""mnist_exp: config-driven experiments for image classifiers on MNIST-style data."""

import os

# TensorFlow's C++ side reads this once, as it loads, and any module below may be the one
# that loads it. Level 1 drops its INFO lines (the CPU-instructions banner) and keeps every
# warning and error; a value the user set wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

__version__ = "0.1.0"
