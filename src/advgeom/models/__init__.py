"""Small models used by the experiments: plain ``nn.Module`` s built from keyword arguments."""

from advgeom.models.mlp import QuadraticNet, ReLUMLP

__all__ = ["QuadraticNet", "ReLUMLP"]
