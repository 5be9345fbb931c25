"""The training loop: full-batch, mini-batch or stochastic gradient descent (chapter 5)."""
import dataclasses

import numpy as np

from . import _checks
from .callbacks import as_callbacks
from .losses import get_loss
from .optim import get_optimizer


class TrainingDiverged(FloatingPointError):
    """Raised when the loss becomes NaN or infinite, usually a learning rate too high.

    ``history`` holds what was recorded up to the divergence, so the curve can be drawn.
    """

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


@dataclasses.dataclass
class History:
    """What ``fit`` recorded.

    loss : per-epoch training cost (mean over the epoch's batches, penalty included)
    batch_loss : the cost of every single update step
    val_loss : per-epoch cost on (x_val, y_val), if given
    stopped_early : True when the callback asked to stop
    """

    loss: list = dataclasses.field(default_factory=list)
    batch_loss: list = dataclasses.field(default_factory=list)
    val_loss: list = dataclasses.field(default_factory=list)
    stopped_early: bool = False


def fit(model, x, y, loss="mse", optimizer="adam", lr=None, epochs=100, batch_size=None,
        rng=None, callback=None, progress=False, x_val=None, y_val=None, solve_output=False):
    """Train ``model`` in place and return its ``History``.

    Parameters
    ----------
    model : nnlib.Sequential
    x : array, shape (N, D)
    y : array, shape (N, M) for M outputs, or (N,) integer labels for softmax_cross_entropy
    loss : str or callable
        A loss name from ``nnlib.losses.LOSSES`` or a function returning
        (value, gradient w.r.t. the model output).
    optimizer : str or optimizer object
        a name from ``nnlib.optim.OPTIMIZERS`` (built with ``lr``, default 0.01), or an
        object with ``step(parameters)``.
    epochs : int
        Passes over the training set.
    batch_size : int, optional
        None trains full-batch; 1 is stochastic gradient descent; anything in
        between is mini-batch. Batches other than full need ``rng`` to shuffle.
    rng : numpy.random.Generator, optional
        Shuffles the examples each epoch.
    callback : callable, Callback or list of them, optional
        A function ``callback(epoch, history)`` runs after every epoch; returning
        True stops training (how a widget cancels a fit). A ``nnlib.callbacks``
        object also sees the start and every step (training diagnostics).
    progress : bool
        Show a tqdm progress bar with the current loss (off by default).
    x_val, y_val : arrays, optional
        A held-out set whose cost is recorded each epoch.
    solve_output : bool
        Hybrid least squares / gradient descent (Cyr et al., 2020; chapter 8): the
        optimizer trains the hidden layers only, and the output layer is set by
        ``nnlib.solve_output_layer`` on all of (x, y) before the first step and after
        every step. Needs loss "mse", an identity (Dense) output layer and no penalty.

    Raises
    ------
    TrainingDiverged
        When the cost becomes NaN or infinite.
    """
    x = _checks.as_array(x, "x", ndim=2)
    y = np.asarray(y)
    _checks.same_rows(x, y, "x", "y")
    _checks.positive(epochs, "epochs", integer=True)
    num_examples = x.shape[0]
    batch_size = num_examples if batch_size is None else _checks.positive(batch_size, "batch_size", integer=True)
    if batch_size > num_examples:
        raise ValueError(f"batch_size must be at most the {num_examples} examples, got {batch_size}")
    if batch_size < num_examples:
        rng = _checks.generator(rng)
    if isinstance(optimizer, str):
        optimizer = get_optimizer(optimizer, lr=0.01 if lr is None else lr)
    elif lr is not None:
        raise ValueError("lr is only used with an optimizer name; set it on the optimizer object instead")
    loss_fn = get_loss(loss)
    callbacks = as_callbacks(callback)
    parameters = model.parameters()
    if solve_output:
        if loss != "mse" or model.l1 or model.l2:
            raise ValueError(f"solve_output=True needs loss='mse' and a model without l1/l2 penalty, "
                             f"got loss={loss!r}, l1={model.l1}, l2={model.l2}")
        from .model import solve_output_layer

        solve_output_layer(model, x, y)  # also checks the last layer is Dense
        output_params = {id(param) for param in model.layers[-1].params.values()}
        parameters = [(param, grad) for param, grad in parameters if id(param) not in output_params]
    history = History()
    epoch_range = range(1, epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epoch_range = tqdm(epoch_range, desc="training", unit="epoch")
    for each in callbacks:
        each.on_train_begin(model)

    for epoch in epoch_range:
        order = np.arange(num_examples) if batch_size == num_examples else rng.permutation(num_examples)
        epoch_total = 0.0
        for start in range(0, num_examples, batch_size):
            batch = order[start:start + batch_size]
            x_batch, y_batch = (x, y) if batch_size == num_examples else (x[batch], y[batch])
            value, dout = loss_fn(model.forward(x_batch, training=True), y_batch)
            value += model.penalty()
            if not np.isfinite(value):
                raise TrainingDiverged(
                    f"the loss became {value} at epoch {epoch} (step {len(history.batch_loss) + 1}); "
                    "the updates are diverging: lower the learning rate or check the inputs' scale",
                    history,
                )
            model.backward(dout)
            optimizer.step(parameters)
            if solve_output:
                solve_output_layer(model, x, y)
            for each in callbacks:
                each.on_step(model, value)
            history.batch_loss.append(value)
            epoch_total += value * len(batch)
        history.loss.append(epoch_total / num_examples)
        if x_val is not None:
            history.val_loss.append(loss_fn(model.predict(x_val), y_val)[0] + model.penalty())
        if progress:
            epoch_range.set_postfix(loss=f"{history.loss[-1]:.4g}")
        if any([each.on_epoch_end(epoch, history) for each in callbacks]):  # a list: every one runs
            history.stopped_early = True
            break
    return history
