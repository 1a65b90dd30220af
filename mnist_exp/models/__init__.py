"""Model builders. Each module `mnist_exp.models.NAME` exposes `build_model` with one signature:

    build_model(input_shape, num_classes, *, l2_regularization, **architecture) -> keras.Model

and `mnist_exp.settings.models` has one class per builder, whose fields are its keyword
arguments (their values live in conf/model/NAME.yaml). Users' own builders take the same
path (`model._target_`, see `builders`).
"""
