"""nn: neurons, layers, MLPs, losses, optimizers and data on scalargrad Values.

PyTorch's names where PyTorch has one, micrograd's where micrograd has one::

    from nn import MLP
    model = MLP(2, [16, 16, 1])          # micrograd's demo model; one output -> a Value
"""

from . import activations, data, init, losses, optim
from .bridge import from_torch, to_torch
from .layers import MLP, Dropout, Layer, Linear, Neuron, ReLU, Sequential, Sigmoid, Tanh
from .loss_modules import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HingeEmbeddingLoss, L1Loss, MSELoss
from .losses import bce, bce_with_logits, cross_entropy, hinge, l1, l2_penalty, log_softmax, mse, softmax
from .module import Module
from .normalization import BatchNorm1d
from .summary import summary
from .optim import SGD, Adagrad, Adam, AdamW, RMSprop
from .train import DivergenceError, accuracy, fit

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "Linear", "ReLU", "Tanh", "Sigmoid", "Dropout", "Sequential", "BatchNorm1d",
    "L1Loss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HingeEmbeddingLoss",
    "summary", "to_torch", "from_torch",
    "mse", "l1", "bce", "bce_with_logits", "softmax", "log_softmax", "cross_entropy", "hinge", "l2_penalty",
    "SGD", "Adagrad", "RMSprop", "Adam", "AdamW",
    "fit", "accuracy", "DivergenceError", "TrainingStep",
    "activations", "data", "init", "losses", "optim",
]


def __getattr__(name: str):
    # nn.TrainingStep lives with fit's compiled path, which needs numpy: imported on first use, so
    # that `import nn` works where numpy is missing (the browser course).
    if name == "TrainingStep":
        from .compiled import TrainingStep

        return TrainingStep
    raise AttributeError(f"module 'nn' has no attribute {name!r}")
