"""Exporting a finished run to SavedModel, TFLite (float, dynamic-range, int8) and ONNX,
each measured against the Keras model."""
