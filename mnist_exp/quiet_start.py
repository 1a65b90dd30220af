"""A quiet TensorFlow start for the console scripts. TensorFlow's C++ side prints its start-up
lines (oneDNN, CPU features, CUDA stubs, cuInit, absl's InitializeLog warning) to file
descriptor 2 before its logging is set up, so TF_CPP_MIN_LOG_LEVEL does not silence them.
Wherever TensorFlow is first imported, its import and device setup run with descriptor 2 held
in a file; every line that is not one of those start-up lines is written back to stderr
afterwards, so no real error is lost. MNIST_EXP_TF_STARTUP=1 shows them all."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

SHOW_ALL = "MNIST_EXP_TF_STARTUP"
STARTUP_LINE = re.compile(
    r"absl::InitializeLog\(\) is called"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|^To enable the following instructions: .*rebuild TensorFlow"
    r"|oneDNN custom operations are on"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation_placer\.cc:\d+\] computation placer already registered"
)


@contextlib.contextmanager
def _held_stderr():
    """Descriptor 2 into a file for the block; then its lines back, the start-up ones left out."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not STARTUP_LINE.search(line)))
            sys.stderr.flush()


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as Python would, and runs its import and device setup held."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real finders take it from here
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            with _held_stderr():
                load(module)
                module.config.list_physical_devices()  # cuInit's line comes from here

        spec.loader.exec_module = exec_module
        return spec


def quiet_tensorflow_start() -> None:
    """Makes the first import of TensorFlow in this process quiet (see the module's text);
    nothing when it is already imported or MNIST_EXP_TF_STARTUP=1."""
    if "tensorflow" in sys.modules or os.environ.get(SHOW_ALL) == "1":
        return
    if not any(isinstance(finder, _QuietTensorFlow) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
