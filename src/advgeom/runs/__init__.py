"""The harness that runs experiments: config, registry, claims and rules, the runner and its
executors (local or Ray), the reproduction and its manifest.

A layer below the experiments: nothing here imports a paper's package at module import time (the
registry discovers them the first time it is asked), so ``advgeom.audit`` and ``advgeom.report``
can use claims, rules and config without loading every experiment.

Dependencies run one way: ``reproduce`` -> ``manifest`` -> ``runner`` -> ``context`` ->
``executors``, and ``runner`` -> ``registry``/``config``/``claims``; ``ray_executor`` (imported only
for ``--executor ray``) -> ``context``/``executors``.
"""
