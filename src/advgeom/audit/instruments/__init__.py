"""The audit's instruments, in the order the report shows them.

Each instrument is one module defining ``INSTRUMENT`` (:class:`advgeom.audit.context.Instrument`):
``measure(ctx)`` returns findings (claim records: a prediction beside the measurement, or a bare
measurement) and metrics, ``plot(result)`` draws from the saved result. Adding one is a module
and a line here.
"""

from advgeom.audit.context import Instrument
from advgeom.audit.instruments import (
    accuracy,
    checks,
    expansion,
    gradients,
    injectivity,
    robustness,
    softmax_head,
    tilting,
)

INSTRUMENTS: tuple[Instrument, ...] = (
    accuracy.INSTRUMENT,
    robustness.INSTRUMENT,
    checks.INSTRUMENT,
    gradients.INSTRUMENT,
    injectivity.INSTRUMENT,
    expansion.INSTRUMENT,
    softmax_head.INSTRUMENT,
    tilting.INSTRUMENT,
)

__all__ = ["INSTRUMENTS", "Instrument"]
