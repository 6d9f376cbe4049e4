"""Experiments: each paper's figures and tables as named runs with claims.

Importing this package registers every experiment; :func:`registry.all_experiments` lists them.
"""

from advgeom.experiments.badger2023 import expansion as _discontinuity_expansion  # noqa: F401
from advgeom.experiments.badger2023 import generative as _discontinuity_generative  # noqa: F401
from advgeom.experiments.badger2023 import injectivity as _discontinuity_injectivity  # noqa: F401
from advgeom.experiments.gilmer2018 import bound as _spheres_bound  # noqa: F401
from advgeom.experiments.gilmer2018 import caps as _spheres_caps  # noqa: F401
from advgeom.experiments.gilmer2018 import dimension as _spheres_dimension  # noqa: F401
from advgeom.experiments.gilmer2018 import halfspace as _spheres_halfspace  # noqa: F401
from advgeom.experiments.gilmer2018 import ignore as _spheres_ignore  # noqa: F401
from advgeom.experiments.gilmer2018 import quadratic as _spheres_quadratic  # noqa: F401
from advgeom.experiments.gilmer2018 import sampling as _spheres_sampling  # noqa: F401
from advgeom.experiments.gilmer2018 import slices as _spheres_slices  # noqa: F401
from advgeom.experiments.registry import PAPERS, Experiment, all_experiments, get, register
from advgeom.experiments.simongabriel2019 import dimension as _firstorder_dimension  # noqa: F401
from advgeom.experiments.simongabriel2019 import generalization as _firstorder_generalization  # noqa: F401
from advgeom.experiments.simongabriel2019 import init as _firstorder_init  # noqa: F401
from advgeom.experiments.simongabriel2019 import lemma as _firstorder_lemma  # noqa: F401
from advgeom.experiments.simongabriel2019 import (  # noqa: F401
    miniimagenet as _firstorder_miniimagenet,
)
from advgeom.experiments.simongabriel2019 import regularizers as _firstorder_regularizers  # noqa: F401
from advgeom.experiments.tanay2018 import deep as _tilting_deep  # noqa: F401
from advgeom.experiments.tanay2018 import plane as _tilting_plane  # noqa: F401
from advgeom.experiments.tanay2018 import regularization as _tilting_regularization  # noqa: F401
from advgeom.experiments.tanay2018 import toy as _tilting_toy  # noqa: F401
from advgeom.experiments.zou2018 import directions as _softmax_directions  # noqa: F401
from advgeom.experiments.zou2018 import unbounded as _softmax_unbounded  # noqa: F401
from advgeom.experiments.zou2018 import universality as _softmax_universality  # noqa: F401

__all__ = ["PAPERS", "Experiment", "all_experiments", "get", "register"]
