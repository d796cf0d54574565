"""scratch_gd: gradient descent built from scratch.

A NumPy multilayer perceptron with hand-written backpropagation, an SGD optimiser that
matches ``torch.optim.SGD`` step for step, and the three classic training regimes.
"""

from .data import lesson_data
from .history import Evaluation, History
from .linear import Linear, linear_backward, linear_forward
from .loss import MSELoss
from .mlp import MLP, Sequential
from .module import Module
from .parameter import Parameter
from .relu import ReLU, relu_backward, relu_forward
from .sampling import BatchSampler
from .sgd import SGD
from .train import train

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "SGD",
    "BatchSampler",
    "Evaluation",
    "History",
    "Linear",
    "MSELoss",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "lesson_data",
    "linear_backward",
    "linear_forward",
    "relu_backward",
    "relu_forward",
    "train",
]
