"""The commands: one thin module per console script (`python -m mnist_exp.cli.NAME` runs the
same), each parsing its command line, calling its library and mapping errors to exit
statuses. `python -m mnist_exp` (`mnist-exp`) is `train.py`, started by `mnist_exp/__main__.py`."""
