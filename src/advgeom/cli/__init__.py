"""The ``advgeom`` command line."""
