"""The reference path: the whole lesson in NumPy, written to be read in this order.

1. ``data``       the lesson's noisy parabola
2. ``parameter``  an array and the gradient backprop adds into it
3. ``module``     forward keeps a cache, backward turns dL/d(out) into dL/d(in)
4. ``backend``    how a layer's three matrix products are computed (NumPy or our kernels)
5. ``linear``     out = x @ W.T + b, and its three gradients
6. ``relu``       max(x, 0), and its mask
7. ``mlp``        layers in a row: the chain rule, one link per layer
8. ``loss``       mean squared error and its gradient 2 (out - y) / N
9. ``sgd``        torch's SGD with momentum, step for step
10. ``sampling``  which samples make each step's batch
11. ``loop``      the training loop itself
12. ``gradcheck`` finite differences that prove the gradients right

``checks`` holds the input checks at the public doors, out of the maths' way. Nothing here
imports anything but the standard library, NumPy and the matmul kernels of
``scratch_gd/kernels``: ``scratch_gd/engine`` is this path's compiled twin, ``scratch_gd/run``
the service around its loop.
"""
