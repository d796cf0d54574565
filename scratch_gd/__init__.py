"""scratch_gd: gradient descent built from scratch.

A NumPy multilayer perceptron with hand-written backpropagation, an SGD optimiser that
matches ``torch.optim.SGD`` step for step, and the three classic training regimes.
Read ``scratch_gd/reference/`` in the order its ``__init__.py`` lists: it is the code
that runs. ``kernels/`` and ``engine/`` are its fast twins; ``run/``, ``store/``, ``lab/``
and ``cli/`` the service around it.
"""

from . import startup as _startup

with _startup.collection_paused():  # no garbage collection while NumPy and Numba load
    from . import bridge as _bridge  # noqa: F401 - gives MLP its from_torch and to_torch
    from .reference.data import lesson_data
    from .reference.linear import Linear, linear_backward, linear_forward
    from .reference.loop import train_loop, training_steps
    from .reference.loss import MSELoss, mse_backward, mse_forward
    from .reference.mlp import MLP, Sequential
    from .reference.module import Module
    from .reference.parameter import Parameter
    from .reference.relu import ReLU, relu_backward, relu_forward
    from .reference.sampling import BatchSampler
    from .reference.sgd import SGD
    from .run.history import Evaluation, History
    from .run.train import train
    from .store import checkpoint as _checkpoint  # noqa: F401 - gives MLP its save and load

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
    "mse_backward",
    "mse_forward",
    "relu_backward",
    "relu_forward",
    "train",
    "train_loop",
    "training_steps",
]
