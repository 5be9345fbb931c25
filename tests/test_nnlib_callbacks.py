"""Training diagnostics: fit's callbacks record what a hand calculation or a real run says."""
import numpy as np
import pytest

import nnlib
from nnlib import callbacks


def _linear_model(weights):
    """One Dense layer 2 -> 1 with the given weights and zero bias."""
    layer = nnlib.Dense(2, 1, np.random.default_rng(0))
    layer.params["W"][:] = np.asarray(weights, dtype=float).reshape(2, 1)
    return nnlib.Sequential([layer])


def _digits(num_examples=600):
    x, y = nnlib.datasets.digits()
    x, y = x[:num_examples], y[:num_examples]
    return (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0), y


def test_gradient_norms_and_update_ratios_match_a_hand_calculation():
    # x = the rows of I and -I, y = 0, W = (1, 2): out = +-W, dout = 2 out / 4, so dW = x^T dout = W
    # and db = 0. SGD with lr 0.1 scales W by 0.9 each step: ||dW|| = sqrt(5) * 0.9^k, and every
    # update is exactly 0.1 of the weights.
    model = _linear_model([1.0, 2.0])
    stats = callbacks.GradientStats()
    x = np.vstack([np.eye(2), -np.eye(2)])
    nnlib.fit(model, x, np.zeros((4, 1)), optimizer="sgd", lr=0.1, epochs=3, callback=stats)
    assert stats.names == ["W1 2x1"]
    np.testing.assert_allclose(stats.grad_norms[:, 0], np.sqrt(5) * 0.9 ** np.arange(3), rtol=1e-12)
    np.testing.assert_allclose(stats.update_ratios[:, 0], [0.1, 0.1, 0.1], rtol=1e-12)


def test_update_ratio_is_measured_from_the_weights_so_it_works_for_adam():
    # Adam's first step moves every weight by lr (m_hat / sqrt(v_hat) = sign(dW)), so ||dW_step|| = lr * sqrt(2).
    model = _linear_model([3.0, 4.0])
    stats = callbacks.GradientStats()
    nnlib.fit(model, np.eye(2), np.zeros((2, 1)), optimizer="adam", lr=0.01, epochs=1, callback=stats)
    assert stats.grad_norms.shape == (1, 1)
    np.testing.assert_allclose(stats.update_ratios[0, 0], 0.01 * np.sqrt(2) / 5.0, rtol=1e-6)


def test_diagnostics_do_not_change_the_training_run():
    x, y = _digits(300)
    runs = []
    for diagnostics in ([], [callbacks.GradientStats(), callbacks.ActivationStats(x, every=2),
                             callbacks.Accuracy(train=(x, y))]):
        model = nnlib.mlp([64, 32, 10], rng=np.random.default_rng(3), drop_prob=0.2)
        runs.append(nnlib.fit(model, x, y, loss="softmax_cross_entropy", epochs=4, batch_size=50,
                              rng=np.random.default_rng(4), callback=diagnostics).batch_loss)
    assert runs[0] == runs[1]


def test_records_have_one_row_per_step_epoch_and_layer():
    x, y = _digits(300)
    stats, activations, acc = callbacks.GradientStats(), callbacks.ActivationStats(x[:100], every=2), \
        callbacks.Accuracy(train=(x, y), probe=(x[:100], y[:100]))
    model = nnlib.mlp([64, 32, 16, 10], rng=np.random.default_rng(0))
    nnlib.fit(model, x, y, loss="softmax_cross_entropy", epochs=4, batch_size=100,
              rng=np.random.default_rng(0), callback=[stats, activations, acc])
    assert stats.grad_norms.shape == stats.update_ratios.shape == (12, 3)
    assert activations.epochs == [0, 2, 4]
    assert activations.mean.shape == activations.std.shape == activations.dead.shape == (3, 2)
    assert [len(acc.history[name]) for name in ("train", "probe")] == [4, 4]
    assert acc.history["train"][-1] == callbacks.accuracy(model.predict(x), y)
    final = callbacks.layer_activations(model, x[:100])
    np.testing.assert_allclose(activations.mean[-1], [a.mean() for _, a in final])


def test_accuracy_improves_while_training_on_real_digits():
    x, y = _digits(600)
    acc = callbacks.Accuracy(train=(x[:400], y[:400]), held_out=(x[400:], y[400:]))
    nnlib.fit(nnlib.mlp([64, 32, 10], rng=np.random.default_rng(0)), x[:400], y[:400],
              loss="softmax_cross_entropy", optimizer="adam", lr=0.01, epochs=30, batch_size=50,
              rng=np.random.default_rng(0), callback=acc)
    assert acc.history["train"][0] < acc.history["train"][-1] == 1.0
    assert acc.history["held_out"][0] + 0.2 < acc.history["held_out"][-1], acc.history["held_out"]


def test_accuracy_and_confusion_matrix_by_hand():
    scores = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 0.0]])
    labels = np.array([0, 1, 1, 2])
    assert callbacks.accuracy(scores, labels) == 0.5
    counts = callbacks.confusion_matrix(labels, scores.argmax(axis=1), num_classes=3)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [1, 0, 0]])


def test_a_relu_unit_negative_on_every_input_is_dead():
    # Unit 1 sees z = x >= 0 (alive where x > 0); unit 2 sees z = -x - 1 < 0 on every input.
    dense = nnlib.Dense(1, 2, np.random.default_rng(0))
    dense.params["W"][:] = [[1.0, -1.0]]
    dense.params["b"][:] = [0.0, -1.0]
    model = nnlib.Sequential([dense, nnlib.ActivationLayer("relu"), nnlib.Dense(2, 1, np.random.default_rng(0))])
    x = np.array([[0.0], [1.0], [2.0]])
    assert callbacks.dead_units(model, x) == [1]
    assert callbacks.dead_units(model, x[:1]) == [2]  # on x = 0 alone both units are off
    leaky = nnlib.Sequential([dense, nnlib.ActivationLayer("leaky_relu"), nnlib.Dense(2, 1, np.random.default_rng(0))])
    assert callbacks.dead_units(leaky, x) == [0]  # a leaky unit always passes some gradient


def test_too_high_a_learning_rate_kills_relu_units():
    x, y = _digits(600)
    dead = {}
    for lr in (0.001, 0.1):
        stats = callbacks.ActivationStats(x, every=10)
        nnlib.fit(nnlib.mlp([64, 64, 64, 10], rng=np.random.default_rng(0)), x, y, loss="softmax_cross_entropy",
                  optimizer="adam", lr=lr, epochs=10, batch_size=50, rng=np.random.default_rng(1), callback=stats)
        assert stats.dead[0].sum() == 0  # He initialization starts with every unit alive
        dead[lr] = stats.dead[-1].sum()
    assert dead[0.001] <= 2 < 20 <= dead[0.1], dead


def test_callbacks_in_a_list_all_run_and_any_can_stop():
    x, y = _digits(100)
    seen = []

    class StopAtThree(callbacks.Callback):
        def on_epoch_end(self, epoch, history):
            return epoch == 3

    stats = callbacks.GradientStats()
    history = nnlib.fit(nnlib.mlp([64, 8, 10], rng=np.random.default_rng(0)), x, y, loss="softmax_cross_entropy",
                        epochs=10, callback=[StopAtThree(), lambda epoch, hist: seen.append(epoch), stats])
    assert history.stopped_early and len(history.loss) == 3
    assert seen == [1, 2, 3] and len(stats.update_ratios) == 3


def test_progress_bar_shows_only_when_asked(capsys):
    x, y = _digits(100)
    for progress in (False, True):
        nnlib.fit(nnlib.mlp([64, 8, 10], rng=np.random.default_rng(0)), x, y, loss="softmax_cross_entropy",
                  epochs=3, progress=progress)
        err = capsys.readouterr().err
        assert ("training: 100%" in err and "3/3" in err) == progress, err


@pytest.mark.parametrize("make, error, message", [
    (lambda: nnlib.fit(_linear_model([1, 1]), np.eye(2), np.zeros((2, 1)), callback=[print, 42]),
     TypeError, r"callback\[1\] must be an nnlib Callback or a function f\(epoch, history\), got int"),
    (lambda: callbacks.Accuracy(), ValueError, "Accuracy needs at least one named set"),
    (lambda: callbacks.Accuracy(test=(np.zeros((3, 2)), np.zeros(4, int))), ValueError,
     r"test x and test y must have the same number of rows"),
    (lambda: callbacks.ActivationStats(np.zeros((3, 2)), every=0), ValueError, "every must be a positive integer, got 0"),
    (lambda: callbacks.confusion_matrix([0, 3], [0, 1], num_classes=3), ValueError,
     r"y_true must hold labels in \[0, 3\), got 0..3"),
])
def test_bad_arguments_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_diagnostic_plots_draw_what_they_were_given():
    from nnlib import plotting

    x, y = _digits(200)
    model = nnlib.mlp([64, 16, 10], rng=np.random.default_rng(0))
    stats = callbacks.GradientStats()
    nnlib.fit(model, x, y, loss="softmax_cross_entropy", epochs=5, callback=stats)
    fig, axes = plotting.figure(ncols=4, width=12)
    plotting.plot_update_ratios(axes[0], stats)
    assert [line.get_label() for line in axes[0].get_lines()] == ["W1 64x16", "W2 16x10", "0.001"]
    np.testing.assert_array_equal(axes[0].get_lines()[1].get_ydata(), stats.update_ratios[:, 1])
    counts = callbacks.confusion_matrix(y, model.predict(x).argmax(axis=1), num_classes=10)
    plotting.plot_confusion_matrix(axes[1], counts)
    assert sorted(int(text.get_text()) for text in axes[1].texts) == sorted(counts.ravel())
    plotting.plot_histograms(axes[2:3], [x[:, 20]], ["pixel 20"], xlabel="standardised value")
    assert sum(patch.get_height() for patch in axes[2].patches) == 200
    plotting.show_images(axes[3:], x[:1], ["first"])
    assert axes[3].get_title() == "first" and axes[3].images[0].get_array().shape == (8, 8)
    plotting.plt.close(fig)


def test_a_callback_reused_for_a_second_fit_describes_only_that_fit():
    x, y = _digits(100)
    diagnostics = [callbacks.GradientStats(), callbacks.ActivationStats(x, every=1), callbacks.Accuracy(train=(x, y))]
    for epochs in (3, 2):
        nnlib.fit(nnlib.mlp([64, 8, 10], rng=np.random.default_rng(0)), x, y, loss="softmax_cross_entropy",
                  epochs=epochs, callback=diagnostics)
    assert len(diagnostics[0].update_ratios) == 2
    assert diagnostics[1].epochs == [0, 1, 2]
    assert len(diagnostics[2].history["train"]) == 2
