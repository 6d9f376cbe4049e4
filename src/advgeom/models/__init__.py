"""Small models used by the experiments: plain ``nn.Module`` s built from keyword arguments.

- :class:`ReLUMLP`, :class:`QuadraticNet`: Gilmer et al.'s sphere networks; :func:`initialise`
  draws initial weights from an explicit generator; :class:`Ensemble` evaluates several copies of
  one architecture as one batched model.
- Simon-Gabriel et al.'s image models: :class:`FCNet`, :class:`StridedCNN`, :class:`AvgPoolCNN`
  and :func:`he_init_` (N(0, 2/fan_in)).
- Badger's models: :class:`FunnelClassifier`, :func:`autoencoder` (:class:`MLPAutoencoder`),
  :class:`Generator` / :class:`Discriminator` (GAN), :class:`DDPMSchedule` /
  :class:`MLPDenoiser` / :class:`TimeConditioned` (diffusion).
"""

from advgeom.models.autoencoder import MLPAutoencoder, autoencoder
from advgeom.models.cnn import AvgPoolCNN, FCNet, StridedCNN, he_init_
from advgeom.models.diffusion import DDPMSchedule, MLPDenoiser, TimeConditioned
from advgeom.models.ensemble import Ensemble
from advgeom.models.funnel import FunnelClassifier
from advgeom.models.gan import Discriminator, Generator
from advgeom.models.mlp import QuadraticNet, ReLUMLP, initialise

__all__ = [
    "AvgPoolCNN",
    "DDPMSchedule",
    "Discriminator",
    "Ensemble",
    "FCNet",
    "FunnelClassifier",
    "Generator",
    "MLPAutoencoder",
    "MLPDenoiser",
    "QuadraticNet",
    "ReLUMLP",
    "StridedCNN",
    "TimeConditioned",
    "autoencoder",
    "he_init_",
    "initialise",
]
