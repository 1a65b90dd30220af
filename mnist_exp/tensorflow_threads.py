"""TensorFlow's thread pools, for any command that runs a TensorFlow model (training and
serving alike); TensorFlow is imported only when called."""

from __future__ import annotations


def set_tensorflow_threads(threads: int | None, inter_op: int | None = None) -> None:
    """Sets TensorFlow's intra-op pool to `threads` and its inter-op pool to `inter_op`
    (default: `threads`; None or 0 threads: both left as they are) before TensorFlow starts
    its runtime; once the runtime is up (a second model or job in this process) its pools stay
    as they are."""
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op or threads)
    except RuntimeError:
        pass  # the runtime is up already
