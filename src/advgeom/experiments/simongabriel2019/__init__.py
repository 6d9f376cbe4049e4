"""Simon-Gabriel, Ollivier, Schölkopf, Bottou, Lopez-Paz, "First-order Adversarial Vulnerability
of Neural Networks and Input Dimension" (ICML 2019).

One module per experiment (``firstorder.*`` ids): ``init`` (Theorems 4-5, Corollary 6, App. B),
``regularizers`` (Fig. 1), ``dimension`` (Fig. 2), ``lemma`` (Lemma 2), ``generalization``
(App. G, Fig. 12). Shared helpers are in ``_common``; Fig. 1's claims in ``_figure1_claims``, which
compares the methods' curves at matched abscissae with ``_matched``.
"""
