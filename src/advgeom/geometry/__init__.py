"""Geometry of decision boundaries: boundary tilting of linear classifiers (Tanay) and the
adversarial directions of softmax layers (Zou et al.). Import from the submodules."""
