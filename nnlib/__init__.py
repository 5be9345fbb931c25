"""nnlib: the small numpy library of "Neural Networks from the Neuron Up".

One flat module per concept; each public function names the chapter that
teaches it. Everything is float64 and every random draw takes an explicit seed
or ``numpy.random.Generator``.
"""
import importlib

from . import activations, datasets, gradcheck, initializers, layers, losses, optim
from . import regions, schedules
from .activations import get_activation, softmax
from .layers import ActivationLayer, Dense, Dropout, Layer, Maxout, PReLU
from .losses import get_loss
from .model import Sequential, count_parameters, hinge_positions, mlp, solve_output_layer, spread_hinges
from .optim import SGD, Adam, Momentum
from .optim import AdamW, RMSProp, Scheduled
from .train import History, TrainingDiverged, fit
from . import callbacks  # training diagnostics (the capstone chapter)

__all__ = [
    "activations", "datasets", "gradcheck", "initializers", "layers", "losses", "optim", "plotting",
    "get_activation", "softmax", "ActivationLayer", "Dense", "Dropout", "Layer", "Maxout", "PReLU",
    "get_loss", "Sequential", "count_parameters", "hinge_positions", "mlp", "solve_output_layer", "spread_hinges",
    "SGD", "Adam", "Momentum", "History", "TrainingDiverged", "fit",
    "schedules", "AdamW", "RMSProp", "Scheduled",
]
__all__ += ["callbacks", "regions"]


def __getattr__(name):
    # nnlib.plotting imports matplotlib (about half a second); load it on first use only.
    if name == "plotting":
        return importlib.import_module(".plotting", __name__)
    raise AttributeError(f"module 'nnlib' has no attribute {name!r}")

