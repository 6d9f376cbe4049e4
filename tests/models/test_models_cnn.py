"""Simon-Gabriel et al.'s image classifiers: layouts, He initialisation, shapes, Theorem 4."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.models.cnn import AvgPoolCNN, FCNet, StridedCNN, he_init_


def convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_strided_cnn_on_32_pixels_is_the_papers_six_layers():
    model = StridedCNN(input_shape=(3, 32, 32))
    layers = convs(model)
    assert [c.stride[0] for c in layers] == [1, 2, 2, 2, 2, 2]
    assert all(c.out_channels == 64 and c.kernel_size == (3, 3) for c in layers)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 6
    assert model.final_shape == (64, 1, 1) and model.readout.in_features == 64
    assert model.eval()(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_up_sampled_inputs_get_one_stride_layer_per_doubling():
    for size, depth in ((8, 4), (16, 5), (64, 7)):
        model = StridedCNN(input_shape=(1, size, size), channels=4)
        assert model.depth == depth and model.readout.in_features == 4
        assert model.eval()(torch.rand(1, 1, size, size)).shape == (1, 10)
    wide = StridedCNN(input_shape=(1, 8, 16), channels=4, padding_mode="zeros")
    assert wide.final_shape == (4, 1, 1) and wide.depth == 5
    odd = StridedCNN(input_shape=(1, 28, 28), channels=4, final_size=2)
    assert odd.final_shape == (4, 2, 2) and odd.eval()(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_avgpool_cnn_pools_instead_of_striding():
    model = AvgPoolCNN(input_shape=(1, 16, 16), channels=4)
    assert all(c.stride == (1, 1) for c in convs(model))
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.modules()) == 4
    assert model.depth == StridedCNN(input_shape=(1, 16, 16), channels=4).depth
    assert model.eval()(torch.rand(3, 1, 16, 16)).shape == (3, 10)


def test_he_initialisation_variances_and_identity_batch_norm():
    model = StridedCNN(input_shape=(1, 32, 32), generator=torch.Generator().manual_seed(0))
    hidden = convs(model)[1]
    assert hidden.weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.03)
    assert model.readout.weight.std().item() == pytest.approx(math.sqrt(1 / 64), rel=0.15)
    assert model.readout.bias.abs().max().item() == 0
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
        assert torch.equal(bn.running_var, torch.ones_like(bn.running_var))
    fc = FCNet(input_shape=(1, 16, 16), hidden=512, generator=torch.Generator().manual_seed(0))
    assert fc[1].weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.03)
    assert fc.readout is fc[-1] and fc(torch.rand(4, 1, 16, 16)).shape == (4, 10)


def test_weights_follow_the_generator_not_the_global_seed():
    def build(seed_global: int) -> FCNet:
        torch.manual_seed(seed_global)
        return FCNet(input_shape=(4,), hidden=8, generator=torch.Generator().manual_seed(5))

    a, b = build(0), build(1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_he_init_on_any_module_uses_gain_one_for_the_last_layer():
    net = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200))
    he_init_(net, generator=torch.Generator().manual_seed(0))
    assert net[0].weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.03)
    assert net[2].weight.std().item() == pytest.approx(math.sqrt(1 / 300), rel=0.03)
    assert net[0].bias.abs().max().item() == 0


def test_theorem_4_input_gradients_of_a_he_fc_net():
    """||grad_x f||_2 does not depend on d; ||grad_x f||_1 grows like sqrt(d) (d = 64 -> 1024)."""
    norms = {}
    for d in (64, 1024):
        l1, l2 = [], []
        for seed in range(4):
            net = FCNet(input_shape=(d,), hidden=256, generator=torch.Generator().manual_seed(seed))
            x = torch.randn(32, d, generator=torch.Generator().manual_seed(10 + seed))
            x.requires_grad_(True)
            (g,) = torch.autograd.grad(net(x)[:, 0].sum(), x)
            l1.append(g.abs().sum(1).mean().item())
            l2.append(g.norm(dim=1).mean().item())
        norms[d] = (sum(l1) / 4, sum(l2) / 4)
    assert norms[1024][0] / norms[64][0] == pytest.approx(4.0, rel=0.1)
    assert norms[1024][1] / norms[64][1] == pytest.approx(1.0, rel=0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(input_shape=(1, 8)),
        dict(input_shape=(1, 8, 8), channels=0),
        dict(input_shape=(1, 4, 4), final_size=8),
        dict(input_shape=(1, 8, 8), padding_mode="mirror"),
        dict(input_shape=(1, 8, 16)),  # reflect padding would reach a 1-pixel-high map
    ],
)
def test_bad_cnn_arguments(kwargs):
    with pytest.raises(InputError):
        StridedCNN(**kwargs)
    with pytest.raises(InputError):
        FCNet(input_shape=(), hidden=4)
