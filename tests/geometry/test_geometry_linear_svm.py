"""The linear SVM (hinge + L2, free bias): against scikit-learn's exact solvers, warm vs cold."""

from __future__ import annotations

import pytest
import torch

from advgeom.errors import InputError
from advgeom.geometry.linear_svm import fit_linear_svm, hinge_objective, svm_path


def _problem(seed: int = 0, N: int = 80, n: int = 6, noise: float = 0.8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, n, generator=g, dtype=torch.float64)
    y = (x[:, 0] + noise * torch.randn(N, generator=g, dtype=torch.float64) > 0).long()
    return x, y


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0, 10.0])
def test_matches_libsvm_on_a_small_problem(lam):
    svm = pytest.importorskip("sklearn.svm")
    x, y = _problem()
    ours = fit_linear_svm(x, y, lam=lam)
    # libsvm solves the same problem (free bias) in C units: C = 1 / (lam N).
    ref = svm.SVC(kernel="linear", C=1 / (lam * len(x)), tol=1e-10).fit(x.numpy(), y.numpy())
    w_ref = torch.tensor(ref.coef_[0])
    assert ours.exact
    assert abs(ours.duality_gap) < 1e-10
    torch.testing.assert_close(ours.w, w_ref, rtol=1e-4, atol=1e-4 * w_ref.norm().item())
    assert ours.b == pytest.approx(float(ref.intercept_[0]), abs=1e-4)
    # Ours is optimal: never above libsvm's objective, and equal to it within its tolerance.
    ref_obj = hinge_objective(x, y, w_ref, float(ref.intercept_[0]), lam)
    assert ours.objective <= ref_obj + 1e-12
    assert ours.objective == pytest.approx(ref_obj, rel=1e-5)


def test_hard_margin_limit_on_separable_data():
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    sol = fit_linear_svm(x, y, lam=1e-6)
    # Max margin: w = (2/3, 0), b = -1; margins of all four points exactly 1.
    torch.testing.assert_close(sol.w, torch.tensor([2 / 3, 0.0], dtype=torch.float64))
    assert sol.b == pytest.approx(-1.0)
    assert sol.exact


def test_warm_and_cold_paths_agree_and_warm_needs_fewer_steps():
    x, y = _problem(seed=2, N=150, n=10, noise=0.5)
    lams = torch.logspace(-5, 1, 25, dtype=torch.float64)
    warm = svm_path(x, y, lams)
    cold = svm_path(x, y, lams, warm_start=False)
    assert warm.W.shape == (25, 10) and bool(warm.exact.all()) and bool(cold.exact.all())
    torch.testing.assert_close(warm.W, cold.W, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(warm.objective, cold.objective, rtol=1e-9, atol=1e-12)
    assert int(warm.iterations.sum()) < int(cold.iterations.sum())
    # Rows come back in the order given, whatever the solving order.
    shuffled = svm_path(x, y, lams.flip(0))
    torch.testing.assert_close(shuffled.W, warm.W.flip(0), rtol=1e-6, atol=1e-8)


def test_objective_falls_as_the_penalty_falls():
    x, y = _problem(seed=3)
    path = svm_path(x, y, torch.logspace(-4, 1, 11))
    assert (path.objective.diff() > 0).all()  # P*(lam) is increasing in lam
    assert (path.W.norm(dim=1).diff() <= 1e-9).all()  # ||w|| shrinks as lam grows


def test_smoothed_solution_is_close_without_polish():
    x, y = _problem(seed=4)
    exact = fit_linear_svm(x, y, lam=0.01)
    smooth = fit_linear_svm(x, y, lam=0.01, smoothing=1e-3, polish=False)
    assert (smooth.w - exact.w).norm() / exact.w.norm() < 1e-2
    assert smooth.objective >= exact.objective - 1e-12


def test_bad_inputs():
    x, y = _problem()
    with pytest.raises(InputError, match="lam"):
        fit_linear_svm(x, y, lam=0.0)
    with pytest.raises(InputError, match="labels"):
        fit_linear_svm(x, torch.zeros_like(y), lam=1.0)
    with pytest.raises(InputError, match="smoothing"):
        fit_linear_svm(x, y, lam=1.0, smoothing=2.0)
    with pytest.raises(InputError, match="lams"):
        svm_path(x, y, [])
