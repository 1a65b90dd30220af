"""Weight averaging (a Keras optimizer's `use_ema`) seen everywhere a run looks at its weights.

Keras keeps the running average in optimizer variables and puts it into the model only when
`fit` returns. Left at that, each epoch's validation and model.keras would hold the raw weights
while the test score used the average. These callbacks put the average in for validation and
for the epoch-end callbacks (model.keras, TensorBoard), and the raw weights back before the
backup and the next epoch, so training and a resumed run go on exactly as without them.
"""

from __future__ import annotations

import keras


def averaging_optimizer(model: keras.Model):
    """The model's optimizer when it keeps a weight average, else None."""
    optimizer = model.optimizer
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under loss scaling
    return optimizer if getattr(optimizer, "use_ema", False) else None


class _Exchange:
    """Swaps the model's weights with the optimizer's averages; knows which the model holds."""

    def __init__(self):
        self.average_in_model = False

    def put_average_in(self, model: keras.Model) -> None:
        if not self.average_in_model:
            self._swap(model)

    def take_average_out(self, model: keras.Model) -> None:
        if self.average_in_model:
            self._swap(model)

    def _swap(self, model: keras.Model) -> None:
        optimizer = averaging_optimizer(model)
        # The two lists keras.callbacks.SwapEMAWeights pairs in the same way.
        pairs = zip(
            optimizer._trainable_variables, optimizer._model_variables_moving_average, strict=True
        )
        for variable, average in pairs:
            held = keras.ops.convert_to_numpy(variable)
            variable.assign(average)
            average.assign(held)
        self.average_in_model = not self.average_in_model


class _AverageIn(keras.callbacks.Callback):
    def __init__(self, exchange: _Exchange):
        super().__init__()
        self.exchange = exchange

    def on_test_begin(self, logs=None):
        self.exchange.put_average_in(self.model)

    def on_test_end(self, logs=None):
        self.exchange.take_average_out(self.model)

    def on_epoch_end(self, epoch, logs=None):
        self.exchange.put_average_in(self.model)


class _AverageOut(keras.callbacks.Callback):
    def __init__(self, exchange: _Exchange):
        super().__init__()
        self.exchange = exchange

    def on_epoch_end(self, epoch, logs=None):
        self.exchange.take_average_out(self.model)


def with_averaged_weights(callbacks: list, model: keras.Model) -> list:
    """`callbacks` seeing the averaged weights at validation and at each epoch's end, the raw
    weights back once they are done; `callbacks` as they are when nothing is averaged."""
    if averaging_optimizer(model) is None:
        return callbacks
    exchange = _Exchange()
    return [_AverageIn(exchange), *callbacks, _AverageOut(exchange)]
