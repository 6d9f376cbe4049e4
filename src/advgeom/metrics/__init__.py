"""Measurements, one value per example (shape ``(batch,)``); the caller averages.

- :func:`gradient_norms`, :func:`gradient_norm`, :func:`input_gradient`: ||grad_x L||_q.
- :func:`vulnerability`: prediction changes and loss increase under an eps-sized attack, next to
  the first-order prediction eps * ||grad_x L||_q (Simon-Gabriel et al., Lemma 2).
- :func:`scaled_eps`: eps_p = eps_inf * d^(1/p); :func:`lp_norm`, :func:`dual_norm`.
"""

from advgeom.metrics.gradients import gradient_norm, gradient_norms, input_gradient
from advgeom.metrics.norms import dual_norm, lp_norm, scaled_eps
from advgeom.metrics.vulnerability import (
    Vulnerability,
    first_order_increase,
    loss_increase,
    prediction_changed,
    vulnerability,
)

__all__ = [
    "Vulnerability",
    "dual_norm",
    "first_order_increase",
    "gradient_norm",
    "gradient_norms",
    "input_gradient",
    "loss_increase",
    "lp_norm",
    "prediction_changed",
    "scaled_eps",
    "vulnerability",
]
