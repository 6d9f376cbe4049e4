"""Simon-Gabriel, Ollivier, Schölkopf, Bottou, Lopez-Paz, "First-order Adversarial Vulnerability
of Neural Networks and Input Dimension" (ICML 2019).

One module per experiment (``firstorder.*`` ids): ``init`` (Theorems 4-5, Corollary 6, App. B),
``regularizers`` (Fig. 1), ``dimension`` (Fig. 2, its caption, Fig. 7e), ``lemma`` (Lemma 2),
``generalization`` (App. G, Figs. 12, 8 and 10), ``miniimagenet`` (App. H, Fig. 13). Shared
helpers are in ``_common``; Fig. 1's claims in ``_figure1_claims``, which compares the methods'
curves at matched abscissae with ``_matched``; Fig. 2's in ``_figure2_claims`` and
``_figure2_caption``; Figs. 8 and 10's in ``_figure8``.
"""
