"""Several independent copies of one architecture, evaluated as one batched model.

Training a grid of small networks (seeds x training-set sizes) one after another leaves a GPU
idle between tiny kernels. :class:`Ensemble` stacks the members' parameters along a leading
dimension (``torch.func.stack_module_state``) and evaluates them with ``torch.func.vmap``, so
each layer of all members runs as one batched kernel.

Members stay independent: each has its own parameters, its own batch of data and its own
buffers. Batch-norm running statistics are stacked buffers too, so in training mode each member
updates its own statistics from its own batch, exactly as the model alone would (a test checks
this against sequential training). Any optimiser that acts elementwise (SGD, Adam) applied to the
stacked parameters is the same as one optimiser per member.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from advgeom.errors import InputError


class Ensemble(nn.Module):
    """``E`` members of one architecture with stacked parameters.

    Args:
        models: the members (same class, same parameter and buffer names and shapes). They are
            copied; later changes to them do not reach the ensemble.

    ``forward(x)``: x ``(E, batch, *in_shape)`` (member i gets ``x[i]``) to ``(E, batch, *out)``.
    ``forward_shared(x)``: x ``(batch, *in_shape)`` fed to every member, to ``(E, batch, *out)``.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        models = list(models)
        _check_same_architecture(models)
        params, buffers = stack_module_state(models)
        self._param_names = list(params)
        self._buffer_names = list(buffers)
        # Dotted names ("0.weight") cannot be attribute names: store by position.
        for i, name in enumerate(self._param_names):
            self.register_parameter(f"p{i}", nn.Parameter(params[name].detach().clone()))
        for i, name in enumerate(self._buffer_names):
            self.register_buffer(f"b{i}", buffers[name].clone())
        # The template only lends its code to functional_call; kept off the module tree so
        # .to(device) and state_dict() ignore it.
        self._template = [copy.deepcopy(models[0]).to("meta")]
        self.size = len(models)

    def _state(self) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        params = {n: getattr(self, f"p{i}") for i, n in enumerate(self._param_names)}
        buffers = {n: getattr(self, f"b{i}") for i, n in enumerate(self._buffer_names)}
        return params, buffers

    def _call(self, x: Tensor, x_dim: int | None) -> Tensor:
        template = self._template[0]
        template.train(self.training)

        def one(p: dict, b: dict, xi: Tensor) -> Tensor:
            return functional_call(template, (p, b), (xi,))

        params, buffers = self._state()
        return vmap(one, in_dims=(0, 0, x_dim), randomness="different")(params, buffers, x)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[0] != self.size:
            raise InputError(f"x must have shape (E={self.size}, batch, ...) "
                             f"(got {tuple(x.shape)})")
        return self._call(x, 0)

    def forward_shared(self, x: Tensor) -> Tensor:
        """Every member on the same inputs ``x`` (batch, *in_shape) -> (E, batch, *out)."""
        return self._call(x, None)

    def member(self, index: int) -> nn.Module:
        """A standalone copy of member ``index`` (its class, its weights, on this device)."""
        if not 0 <= index < self.size:
            raise InputError(f"index must be in [0, {self.size}) (got {index})")
        params, buffers = self._state()
        device = params[self._param_names[0]].device
        model = copy.deepcopy(self._template[0]).to_empty(device=device)
        state = {n: t[index].detach().clone() for n, t in (params | buffers).items()}
        model.load_state_dict(state)
        return model.train(self.training)

    def as_single_model(self) -> nn.Module:
        """This ensemble as a model of inputs ``(E * batch, *in)`` -> ``(E * batch, *out)``.

        Rows ``[i * batch, (i + 1) * batch)`` go to member ``i``, so tools written for one model
        (attacks, error rates) run on all members at once. The batch must keep its size: use
        attacks without batch compaction (e.g. ``manifold_pgd(mode="worst_case")``). Its
        ``batch_multiple`` attribute tells the attacks to probe it with E rows, not one.
        """
        return _Flat(self)


class _Flat(nn.Module):
    def __init__(self, ensemble: Ensemble) -> None:
        super().__init__()
        self.ensemble = ensemble
        self.batch_multiple = ensemble.size

    def forward(self, x: Tensor) -> Tensor:
        size = self.ensemble.size
        if x.shape[0] % size:
            raise InputError(f"the batch ({x.shape[0]}) must be a multiple of the ensemble size "
                             f"({size}): rows are split evenly between the members")
        out = self.ensemble(x.reshape(size, x.shape[0] // size, *x.shape[1:]))
        return out.reshape(x.shape[0], *out.shape[2:])


def _check_same_architecture(models: list[nn.Module]) -> None:
    if not models:
        raise InputError("models must hold at least one model")
    first = models[0]
    shapes = {k: (v.shape, v.dtype) for k, v in first.state_dict().items()}
    for i, m in enumerate(models[1:], start=1):
        if type(m) is not type(first):
            raise InputError(f"models[{i}] is a {type(m).__name__}, models[0] a "
                             f"{type(first).__name__}: an ensemble holds one architecture")
        if {k: (v.shape, v.dtype) for k, v in m.state_dict().items()} != shapes:
            raise InputError(f"models[{i}] has other parameter names or shapes than models[0]")
