"""The engine's own error type. Everything else it raises is Python's usual pair:
``TypeError`` for an argument of the wrong type, ``ValueError`` for one of the right type
but a value out of range (see :mod:`scalargrad.engine.checks`)."""


class NonFiniteError(FloatingPointError):
    """A number the engine would compute is not a finite real number.

    Raised, naming the operation and its inputs, when a result, a local derivative or a
    gradient would be infinite or undefined: an overflow, 1/0, log of a number <= 0, a
    negative base to a fractional power, an infinite derivative (√x at 0). nn raises it
    too when an optimizer step or a training run diverges. Nothing the user had is
    changed by the call that raises it. A ``FloatingPointError``, so ``ArithmeticError``
    catches it.
    """
