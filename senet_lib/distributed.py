"""Data-parallel training under ``torchrun``: the few places where a distributed run differs.

Without a process group (a plain ``python`` run) every function here says "one process": world
size 1, rank 0, and :func:`train_loader` is an ordinary shuffling ``DataLoader``. Under
``torchrun`` (``WORLD_SIZE`` > 1, after :func:`start`) each process draws its share of every epoch
with a ``DistributedSampler``, the model is wrapped in ``DistributedDataParallel``
(:func:`data_parallel`; ``SyncBatchNorm`` on CUDA), and epoch statistics are summed over the
processes (:func:`all_reduce_sum`). Only rank 0 writes files.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

__all__ = ["world", "rank", "local_rank", "start", "stop", "train_loader", "data_parallel",
           "all_reduce_sum"]


def _running() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world() -> int:
    """How many processes train each run (1, or torchrun's ``--nproc-per-node`` x nodes)."""
    import torch.distributed as dist

    return dist.get_world_size() if _running() else 1


def rank() -> int:
    """This process's rank under ``torchrun`` (0 without it): only rank 0 writes files."""
    import torch.distributed as dist

    return dist.get_rank() if _running() else 0


def local_rank() -> int:
    """This process's index on its machine (its GPU), 0 without ``torchrun``."""
    return int(os.environ.get("LOCAL_RANK", "0")) if _running() else 0


def start(device: torch.device) -> int:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1); the world size.

    The backend is NCCL on CUDA and gloo otherwise (the CPU); each process's device is its
    ``LOCAL_RANK``'s GPU.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 1
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_world_size()


def stop() -> None:
    """Leave the process group, if this process joined one."""
    if _running():
        import torch.distributed as dist

        dist.destroy_process_group()


class _EpochLoader:
    """A ``DataLoader`` over a ``DistributedSampler`` that moves to the next epoch's shuffle each
    time it is iterated (``sampler.set_epoch(1)``, ``(2)``, ...)."""

    def __init__(self, loader: DataLoader, sampler) -> None:
        self.loader, self.sampler, self.epoch = loader, sampler, 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        self.epoch += 1
        self.sampler.set_epoch(self.epoch)
        return iter(self.loader)


def train_loader(data: Dataset, batch_size: int, generator: torch.Generator, seed: int):
    """Batches of ``batch_size`` images, shuffled anew every epoch, the last incomplete one dropped.

    One process: shuffled with ``generator``. Under ``torchrun``: this process's share,
    ``batch_size / world()`` images a step, drawn by a ``DistributedSampler`` seeded by ``seed``.
    """
    n = world()
    if n == 1:
        return DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True, generator=generator)
    from torch.utils.data.distributed import DistributedSampler

    sampler: DistributedSampler[int] = DistributedSampler(data, num_replicas=n, rank=rank(), shuffle=True, seed=seed,
                                                          drop_last=True)
    return _EpochLoader(DataLoader(data, batch_size=batch_size // n, sampler=sampler, drop_last=True), sampler)


def data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` wrapped for data-parallel training (SyncBatchNorm on CUDA, then DDP); ``model``
    itself with one process."""
    if world() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def all_reduce_sum(*values: float, device: torch.device) -> list[float]:
    """The sums over all processes of ``values`` (the values themselves with one process)."""
    if world() == 1:
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()
