"""`python -m mnist_exp.reporting.quiet_tensorboard [TensorBoard's options]`: TensorBoard's own
command, started without TensorFlow's start-up lines (see mnist_exp.quiet_start). It is the
process `mnist-exp-board` runs."""

from mnist_exp.quiet_start import quiet_tensorflow_start

if __name__ == "__main__":
    quiet_tensorflow_start()
    from tensorboard.main import run_main

    run_main()
