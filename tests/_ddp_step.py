"""Run by tests/test_distributed.py under ``torchrun``: one training step of a small SE network
over a global batch split across the processes; rank 0 saves the weights to ``sys.argv[1]``."""

import sys

import torch
import torch.distributed as dist
from torch.utils.data import TensorDataset

from senet_lib.tiny_task import TinySENet
from senet_lib.train import train


def batch(n: int = 16) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(n, 3, 12, 12, generator=g), torch.randint(0, 4, (n,), generator=g))


def one_step() -> TinySENet:
    torch.manual_seed(0)
    model = TinySENet(4, width=8, reduction=2)
    train(model, batch(), epochs=1, batch_size=16, lr=0.5, augment=None, seed=3, device="cpu",
          progress=False)
    return model


if __name__ == "__main__":
    dist.init_process_group("gloo")
    model = one_step()
    if dist.get_rank() == 0:
        torch.save(model.state_dict(), sys.argv[1])
    dist.destroy_process_group()
