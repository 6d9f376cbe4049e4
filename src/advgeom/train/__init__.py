"""Training loops (the sphere networks of Gilmer et al. so far)."""
