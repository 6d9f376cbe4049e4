"""advgeom: measure and reproduce the geometry of adversarial examples on any PyTorch model."""

from advgeom.errors import AdvgeomError, DataError, InputError

__version__ = "0.1.0"

__all__ = ["AdvgeomError", "DataError", "InputError", "__version__"]
