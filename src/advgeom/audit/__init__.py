"""Audit a user's own PyTorch model with the toolkit's instruments (``advgeom audit``).

>>> from advgeom import audit
>>> model = audit.load_model("mymodels.py:build", weights="net.safetensors")
>>> ctx = audit.prepare(model, audit.Settings(data="mnist", samples=256), device=device)
>>> results = audit.run_instruments(ctx)

- :func:`load_model`: ``MODULE:FACTORY`` (a dotted module or a ``.py`` file) and safetensors
  weights, with one-line errors naming what does not fit.
- :func:`prepare`: the test data, checked against the model, and the attack radii.
- :data:`INSTRUMENTS`: clean accuracy; robust accuracy and minimal distances (l_inf, l2);
  gradient norms, the sqrt(d) law and the first-order damage prediction.
- :func:`write_audit`: results.json, figures and the report, written all or nothing.
"""

from advgeom.audit.context import DEFAULT_EPS, AuditContext, Instrument, Settings, prepare
from advgeom.audit.instruments import INSTRUMENTS
from advgeom.audit.loading import load_model, load_weights, parse_spec
from advgeom.audit.run import AuditFailed, check_out, describe_audit, run_instruments, write_audit

__all__ = [
    "DEFAULT_EPS",
    "AuditFailed",
    "INSTRUMENTS",
    "AuditContext",
    "Instrument",
    "Settings",
    "check_out",
    "describe_audit",
    "load_model",
    "load_weights",
    "parse_spec",
    "prepare",
    "run_instruments",
    "write_audit",
]
