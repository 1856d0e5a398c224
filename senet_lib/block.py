"""The Squeeze-and-Excitation block (Hu et al., 2018).

For a feature map ``x`` of shape ``(N, C, H, W)``:

* squeeze:    ``z = mean over (H, W) of x``                      -> ``(N, C)``
* excitation: ``s = sigmoid(W2 @ relu(W1 @ z) + b2)``             -> ``(N, C)``, one gate per channel
* scale:      ``y = s[:, :, None, None] * x``                     -> ``(N, C, H, W)``

``W1`` is ``(C // r, C)`` with no bias, ``W2`` is ``(C, C // r)`` with a bias, as in the
classic layer sequence ``AdaptiveAvgPool2d(1), Flatten, Linear(C, C // r, bias=False),
ReLU, Linear(C // r, C), Sigmoid, Unflatten(1, (C, 1, 1))`` followed by ``x * gates``.

Squeeze and scale are memory-bound: each reads the whole feature map. When gradients
are tracked, their backward passes are written out by hand (:class:`_Squeeze`,
:class:`_Scale`) so that fewer full-size temporary tensors are made than autograd's
generic rules would make; the values are the same (see ``tests/test_block.py``).
Without gradients (inference) they are the plain tensor operations.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules import module as _module

from . import _checks

__all__ = ["SEBlock", "squeeze", "scale", "hidden_width"]


class _Squeeze(torch.autograd.Function):
    """Global average pooling ``(N, C, H, W) -> (N, C)``.

    Backward returns the pooled gradient as a broadcast *view* (``expand``) rather
    than a materialised ``(N, C, H, W)`` tensor; autograd adds it where needed.
    """

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.shape = x.shape

    @staticmethod
    def backward(ctx, grad_z: torch.Tensor) -> torch.Tensor:
        n, c, h, w = ctx.shape
        return (grad_z / (h * w))[:, :, None, None].expand(n, c, h, w)


class _Scale(torch.autograd.Function):
    """Channel-wise product ``y[n, c] = s[n, c] * x[n, c]`` for ``x (N, C, H, W)``, ``s (N, C)``.

    Backward: ``dx = s * dy`` and ``ds[n, c] = sum_hw dy * x``; the second is a
    batched dot product, so the product ``dy * x`` is never stored.
    """

    @staticmethod
    def forward(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return x * s[:, :, None, None]

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, s = inputs
        ctx.save_for_backward(x, s)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        x, s = ctx.saved_tensors
        grad_x = grad_s = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_y * s[:, :, None, None]
        if ctx.needs_input_grad[1]:
            grad_s = _channel_dot(grad_y, x)
        return grad_x, grad_s


def _channel_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum over (H, W) of a * b`` for two ``(N, C, H, W)`` tensors."""
    n, c, h, w = a.shape
    if a.is_contiguous() and b.is_contiguous():
        # (N*C, 1, HW) @ (N*C, HW, 1) -> (N*C, 1, 1): no product tensor is stored
        return torch.bmm(a.reshape(n * c, 1, h * w), b.reshape(n * c, h * w, 1)).view(n, c)
    # channels_last or strided: multiply and reduce a few rows at a time, so that the
    # product lives in a small cache-sized buffer instead of a full (N, C, H, W) tensor
    rows = max(1, _DOT_CHUNK_ELEMENTS // max(1, n * c * w))
    out = (a[:, :, :rows] * b[:, :, :rows]).sum(dim=(2, 3))
    for top in range(rows, h, rows):
        out += (a[:, :, top:top + rows] * b[:, :, top:top + rows]).sum(dim=(2, 3))
    return out


_DOT_CHUNK_ELEMENTS = 1 << 18  # 1 MiB of float32 per chunk of the product


def _tracks_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling: ``(N, C, H, W) -> (N, C)``, the mean of each channel."""
    if _tracks_grad(x):
        return _Squeeze.apply(x)
    # inference: plain ops, no autograd.Function call overhead; on CPU a sum and one
    # division of the (N, C) result is faster than mean() over two dimensions. Not in float16,
    # where the sum of a large map overflows (65504) although its mean does not.
    if x.dtype not in (torch.float32, torch.float64):
        return x.mean(dim=(2, 3))
    return x.sum(dim=(2, 3)).div_(x.shape[2] * x.shape[3])


def scale(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Multiply channel ``c`` of ``x (N, C, H, W)`` by gate ``s[:, c]`` (``s`` is ``(N, C)``)."""
    if _tracks_grad(x, s):
        return _Scale.apply(x, s)
    return x * s[:, :, None, None]


def hidden_width(channels: int, reduction: int, min_hidden: int = 1) -> int:
    """Width of the bottleneck: ``max(min_hidden, channels // reduction)``.

    The floor matters for small ``channels``: the classic demo ``C = 3, r = 16`` gives
    ``3 // 16 == 0``, a layer with no units whose gates are all ``sigmoid(b2)``, the same
    for every image. With the floor it is 1.
    """
    channels = _checks.positive_int("channels", channels)
    reduction = _checks.positive_int("reduction", reduction)
    min_hidden = _checks.positive_int("min_hidden", min_hidden)
    return max(min_hidden, channels // reduction)


def _global_hooks() -> bool:
    """Whether any global module hook (``nn.modules.module.register_module_forward_hook``
    and friends) is registered: those must see every sub-module call."""
    return bool(_module._global_forward_hooks or _module._global_forward_pre_hooks)


class Squeeze(nn.Module):
    """Module form of :func:`squeeze`, so it shows in ``print(model)`` and can carry hooks."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return squeeze(x)


class SEBlock(nn.Module):
    """Squeeze-and-Excitation block: ``y = x * sigmoid(W2 relu(W1 mean_hw(x)) + b2)``.

    Args:
        channels: ``C``, the number of channels of the input feature map.
        reduction: ``r``; the bottleneck has ``max(min_hidden, C // r)`` units.
        hidden: set the bottleneck width directly instead of through ``reduction``.
        min_hidden: floor on the bottleneck width (default 1), so that ``C < r``
            never builds a zero-width layer (``SEBlock(3, 16)`` has 1 hidden unit).
        bias1: whether the first linear layer (``C -> C/r``) has a bias. Off by default,
            as in the classic write-up; the paper reports that dropping FC biases helped.
        bias2: whether the second linear layer (``C/r -> C``) has a bias (default on).

    Sub-modules, in the order the data meets them: ``squeeze`` (global average
    pooling), ``fc1``, ``relu``, ``fc2``, ``gate`` (sigmoid). A forward hook on
    ``gate`` sees the ``(N, C)`` gates of every forward pass; nothing is stored
    otherwise.

    For inference (no gradient tracked, no hook on any sub-module, no autocast) the
    gates are computed with a few tensor operations instead of five module calls: the
    same function, at a lower cost per call, which matters at batch size 1. Registering
    a hook switches back to the sub-modules, so hooks always fire.

    Shapes: input ``(N, C, H, W)`` floating point, output the same shape, dtype and
    memory format.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        *,
        hidden: int | None = None,
        min_hidden: int = 1,
        bias1: bool = False,
        bias2: bool = True,
    ) -> None:
        super().__init__()
        channels = _checks.positive_int("channels", channels)
        if hidden is None:
            hidden = hidden_width(channels, reduction, min_hidden)
        else:
            hidden = _checks.positive_int("hidden", hidden)
            _checks.positive_int("reduction", reduction)
        self.channels = channels
        self.reduction = reduction
        self.hidden = hidden
        self.squeeze = Squeeze()
        self.fc1 = nn.Linear(channels, hidden, bias=bias1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden, channels, bias=bias2)
        self.gate = nn.Sigmoid()

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """The excitation alone: ``(N, C, H, W) -> (N, C)`` gates in (0, 1)."""
        _checks.feature_map("x", x, self.channels)
        if self._lean(x):
            return self._gates_lean(x)
        return self._excite(self.squeeze(x))

    def _excite(self, z: torch.Tensor) -> torch.Tensor:
        return self.gate(self.fc2(self.relu(self.fc1(z))))

    def _lean(self, x: torch.Tensor) -> bool:
        """Whether the gates may skip the sub-modules: no gradient is tracked, no hook could
        miss a call (on the sub-modules or global), no autocast would change the dtypes."""
        if torch.is_grad_enabled() and (
            x.requires_grad or any(p.requires_grad for p in self.parameters())
        ):
            return False
        if _global_hooks():
            return False
        for m in self._modules.values():  # squeeze, fc1, relu, fc2, gate
            if m._forward_hooks or m._forward_pre_hooks:
                return False
        return not torch.is_autocast_enabled(x.device.type)

    def _gates_lean(self, x: torch.Tensor) -> torch.Tensor:
        """The gates with as few operations as possible, for inference.

        The same function as the sub-modules compute, arranged for speed: the squeeze is a sum,
        and its ``1 / (H * W)`` rides on a later product (``relu(a * u) = a * relu(u)`` for
        ``a > 0``), so no division is launched. For one image the two layers are
        matrix-vector products, which read each weight once, in order.
        """
        n, c, h, w = x.shape
        if x.dtype in (torch.float32, torch.float64):
            z = x.sum(dim=(2, 3))  # (N, C): H * W times the mean
            inv = 1.0 / (h * w)
        else:  # float16 would overflow (at 65504) where the mean does not: divide first
            z, inv = x.mean(dim=(2, 3)), 1.0
        w1, b1, w2, b2 = self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias
        if n == 1:
            z = z.view(c)
            u = torch.mv(w1, z) if b1 is None else torch.addmv(b1, w1, z, alpha=inv)
            u = u.relu_()
            a = inv if b1 is None else 1.0
            s = torch.mv(w2, u).mul_(a) if b2 is None else torch.addmv(b2, w2, u, alpha=a)
            return s.sigmoid_().view(1, c)
        u = torch.mm(z, w1.t()) if b1 is None else torch.addmm(b1, z, w1.t(), alpha=inv)
        u = u.relu_()
        a = inv if b1 is None else 1.0
        s = torch.mm(u, w2.t()).mul_(a) if b2 is None else torch.addmm(b2, u, w2.t(), alpha=a)
        return s.sigmoid_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _checks.feature_map("x", x, self.channels)
        if self._lean(x):
            return scale(x, self._gates_lean(x))
        z = self.squeeze(x)  # (N, C)     squeeze
        s = self._excite(z)  # (N, C)     excitation
        return scale(x, s)  # (N, C, H, W) scale

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, hidden={self.hidden}"
