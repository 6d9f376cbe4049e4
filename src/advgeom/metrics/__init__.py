"""Measurements, one value per example (shape ``(batch,)``); the caller averages.

- :func:`gradient_norms`, :func:`gradient_norm`, :func:`input_gradient`: ||grad_x L||_q.
- :func:`vulnerability`: prediction changes and loss increase under an eps-sized attack, next to
  the first-order prediction eps * ||grad_x L||_q (Simon-Gabriel et al., Lemma 2).
- :func:`scaled_eps`: eps_p = eps_inf * d^(1/p); :func:`lp_norm`, :func:`dual_norm`.
- :func:`min_output_distance`, :func:`min_input_distance`, :func:`min_pairwise_distance`: the
  minimum pairwise L1 distance d_m over a data set, duplicates reported (Badger, Eq. 1).
- :func:`sphere_error_rate`, :func:`sphere_error_rates`: mu(E) on a sphere by Monte Carlo, for
  a model or every member of an ensemble (Gilmer et al.), with a checked reduced-precision pass.
- :func:`expansion`: e_a, e_n and r = e_a / e_n along FGSM and Gaussian steps over a grid of
  eta, in float32 or float64 (Badger, Eq. 4-6).
"""

from advgeom.metrics.error_rate import describe_rate, sphere_error_rate, sphere_error_rates
from advgeom.metrics.expansion import DEFAULT_ETAS, Expansion, expansion
from advgeom.metrics.gradients import gradient_norm, gradient_norms, input_gradient
from advgeom.metrics.injectivity import (
    MinDistance,
    distinct_rows,
    min_input_distance,
    min_output_distance,
    min_pairwise_distance,
    model_outputs,
)
from advgeom.metrics.vulnerability import (
    Vulnerability,
    first_order_increase,
    loss_increase,
    prediction_changed,
    vulnerability,
)
from advgeom.tensors import dual_norm, lp_norm, scaled_eps

__all__ = [
    "DEFAULT_ETAS",
    "Expansion",
    "MinDistance",
    "Vulnerability",
    "describe_rate",
    "distinct_rows",
    "dual_norm",
    "expansion",
    "first_order_increase",
    "gradient_norm",
    "gradient_norms",
    "input_gradient",
    "loss_increase",
    "lp_norm",
    "min_input_distance",
    "min_output_distance",
    "min_pairwise_distance",
    "model_outputs",
    "prediction_changed",
    "scaled_eps",
    "sphere_error_rate",
    "sphere_error_rates",
    "vulnerability",
]
