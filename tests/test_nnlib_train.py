"""The training loop fits real data, supports every batching mode and fails clearly."""
import numpy as np
import pytest

import nnlib


def _scaled_x_sin_x():
    x, y = nnlib.datasets.x_sin_x(256)
    return x / 10.0, y


def test_two_hidden_layers_fit_x_sin_x():
    x, y = _scaled_x_sin_x()
    model = nnlib.mlp([1, 32, 32, 1], "relu", rng=np.random.default_rng(1))
    history = nnlib.fit(model, x, y, loss="mse", optimizer="adam", lr=0.01, epochs=2000)
    mse = nnlib.losses.mse(model.predict(x), y)[0]
    assert mse < 0.01 * y.var(), (mse, y.var())
    assert history.loss[-1] < history.loss[0] / 100


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(None, 1), (32, 8), (1, 256)])
def test_batch_modes_take_the_expected_number_of_steps(batch_size, steps_per_epoch):
    x, y = _scaled_x_sin_x()
    model = nnlib.mlp([1, 16, 1], "tanh", rng=np.random.default_rng(0))
    history = nnlib.fit(model, x, y, optimizer="sgd", lr=0.01, epochs=3, batch_size=batch_size,
                        rng=np.random.default_rng(0))
    assert len(history.loss) == 3
    assert len(history.batch_loss) == 3 * steps_per_epoch
    assert history.loss[-1] < history.loss[0]


def test_classification_with_integer_labels_and_validation_loss():
    x, y = nnlib.datasets.multiclass(300, num_classes=3, seed=0)
    model = nnlib.mlp([2, 16, 3], rng=np.random.default_rng(0))
    history = nnlib.fit(model, x[:200], y[:200], loss="softmax_cross_entropy", epochs=100,
                        x_val=x[200:], y_val=y[200:])
    accuracy = np.mean(model.predict(x[200:]).argmax(axis=1) == y[200:])
    assert len(history.val_loss) == 100 and accuracy > 0.8


def test_callback_can_stop_training():
    x, y = _scaled_x_sin_x()
    seen = []
    history = nnlib.fit(nnlib.mlp([1, 4, 1], rng=np.random.default_rng(0)), x, y, epochs=50,
                        callback=lambda epoch, hist: seen.append(epoch) or epoch == 5)
    assert seen == [1, 2, 3, 4, 5] and history.stopped_early and len(history.loss) == 5


def test_divergence_stops_with_a_clear_message():
    x, y = nnlib.datasets.x_sin_x(64)
    model = nnlib.mlp([1, 32, 32, 1], rng=np.random.default_rng(0))
    with pytest.raises(nnlib.TrainingDiverged, match=r"the loss became (nan|inf) at epoch \d+ .*lower the learning rate") as caught:
        with np.errstate(all="ignore"):
            nnlib.fit(model, x, y, optimizer="sgd", lr=10.0, epochs=100)
    recorded = caught.value.history.batch_loss
    assert len(recorded) >= 1 and recorded[-1] > recorded[0]  # the curve up to the blow-up survives


def test_same_seed_same_training():
    x, y = _scaled_x_sin_x()
    runs = [nnlib.fit(nnlib.mlp([1, 8, 1], rng=np.random.default_rng(4), drop_prob=0.2), x, y, epochs=20,
                      batch_size=16, rng=np.random.default_rng(5)).batch_loss for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"epochs": 0}, ValueError, "epochs must be a positive integer, got 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, got 0"),
    ({"batch_size": 1000}, ValueError, "batch_size must be at most the 256 examples, got 1000"),
    ({"batch_size": 8}, TypeError, "rng must be a numpy.random.Generator"),
    ({"lr": -1.0}, ValueError, "lr must be a positive number, got -1.0"),
    ({"optimizer": nnlib.SGD(0.1), "lr": 0.1}, ValueError, "lr is only used with an optimizer name"),
])
def test_bad_arguments(kwargs, error, message):
    x, y = _scaled_x_sin_x()
    with pytest.raises(error, match=message):
        nnlib.fit(nnlib.mlp([1, 4, 1], rng=np.random.default_rng(0)), x, y, **kwargs)


def test_data_is_checked_before_training():
    model = nnlib.mlp([1, 4, 1], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"x and y must have the same number of rows, got x \(3, 1\) and y \(4, 1\)"):
        nnlib.fit(model, np.zeros((3, 1)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="x must be finite"):
        nnlib.fit(model, np.array([[np.inf]]), np.zeros((1, 1)))
