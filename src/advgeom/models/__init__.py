"""Small models used by the experiments: plain ``nn.Module`` s built from keyword arguments.

- :class:`ReLUMLP`, :class:`QuadraticNet`: Gilmer et al.'s sphere networks; :func:`initialise`
  draws initial weights from an explicit generator; :class:`Ensemble` evaluates several copies of
  one architecture as one batched model.
- Badger's models: :class:`FunnelClassifier`, :func:`autoencoder` (:class:`MLPAutoencoder`),
  :class:`Generator` / :class:`Discriminator` (GAN), :class:`DDPMSchedule` /
  :class:`MLPDenoiser` / :class:`TimeConditioned` (diffusion).
"""

from advgeom.models.autoencoder import MLPAutoencoder, autoencoder
from advgeom.models.diffusion import DDPMSchedule, MLPDenoiser, TimeConditioned
from advgeom.models.ensemble import Ensemble
from advgeom.models.funnel import FunnelClassifier
from advgeom.models.gan import Discriminator, Generator
from advgeom.models.mlp import QuadraticNet, ReLUMLP, initialise

__all__ = [
    "DDPMSchedule",
    "Discriminator",
    "Ensemble",
    "FunnelClassifier",
    "Generator",
    "MLPAutoencoder",
    "MLPDenoiser",
    "QuadraticNet",
    "ReLUMLP",
    "TimeConditioned",
    "autoencoder",
    "initialise",
]
