"""Sphere training: an ensemble trains each member exactly as training it alone would."""

from __future__ import annotations

import pytest
import torch

from advgeom.errors import InputError
from advgeom.models.ensemble import Ensemble
from advgeom.models.mlp import QuadraticNet, ReLUMLP
from advgeom.train.spheres import SphereTraining, train_ensemble_on_spheres, train_on_spheres


@pytest.mark.parametrize(
    "make",
    [
        lambda: ReLUMLP(in_features=12, hidden=16, depth=2),  # batch-norm running statistics
        lambda: QuadraticNet(in_features=12, hidden=16),
    ],
    ids=["relu-bn", "quadratic"],
)
def test_ensemble_training_equals_training_each_member_alone(make):
    sizes = [40, None, 200]  # finite and online members in one ensemble
    torch.manual_seed(0)
    members = [make() for _ in sizes]
    ensemble = Ensemble(members)
    settings = [SphereTraining(n=12, N=N, steps=25, batch_size=10, lr=1e-2) for N in sizes]
    snapshots = []
    train_ensemble_on_spheres(
        ensemble,
        settings,
        every=10,
        generators=[torch.Generator().manual_seed(i) for i in range(3)],
        on_step=lambda step, e: snapshots.append((step, e.training)),
    )
    assert snapshots == [(0, False), (10, False), (20, False), (25, False)]
    for i, (model, s) in enumerate(zip(members, settings, strict=True)):
        train_on_spheres(model, s, generator=torch.Generator().manual_seed(i))
        trained = ensemble.member(i).state_dict()
        for name, value in model.state_dict().items():
            torch.testing.assert_close(trained[name], value, rtol=1e-5, atol=1e-6, msg=name)


def test_members_must_share_the_optimiser_settings():
    ensemble = Ensemble([ReLUMLP(in_features=4, hidden=4, depth=1) for _ in range(2)])
    gens = [torch.Generator(), torch.Generator()]
    with pytest.raises(InputError, match="share n, steps"):
        train_ensemble_on_spheres(
            ensemble, [SphereTraining(n=4, steps=2), SphereTraining(n=4, steps=3)], generators=gens
        )
    with pytest.raises(InputError, match="one settings and one generator per member"):
        train_ensemble_on_spheres(ensemble, [SphereTraining(n=4)], generators=gens)
