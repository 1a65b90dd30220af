"""Loading, splitting and feeding MNIST-style image data."""

from mnist_exp.data.arrays import ImageData
from mnist_exp.data.sources import load_dataset

__all__ = ["ImageData", "load_dataset"]
