"""Model builders. Each module `mnist_exp.models.NAME` exposes `build_model` with one signature:

    build_model(input_shape, num_classes, *, l2_regularization, **architecture) -> keras.Model

named by `_target_` in conf/model/NAME.yaml, which holds its keyword arguments; the types on
its parameters (`mnist_exp.builder_types`) say what each value must be, checked before
TensorFlow starts (`mnist_exp.settings.builders`). Users' own builders take the same path.
"""
