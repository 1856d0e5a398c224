"""Which device a run trains on, decided once where the run starts (:func:`pick_device`)."""

from __future__ import annotations

import torch

__all__ = ["DEVICES", "pick_device"]

#: What :func:`pick_device` accepts by name (or any ``torch.device`` / "cuda:1" style string).
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``None`` or ``"auto"`` picks CUDA, else Apple's MPS, else the CPU;
    a named device must exist here (``"cuda"`` without a GPU is an error, not a silent CPU run).
    Under ``torchrun`` with CUDA, ``"auto"`` / ``"cuda"`` mean this process's GPU (``LOCAL_RANK``).
    A ``torch.device`` already resolved is returned as it is.
    """
    if isinstance(device, torch.device) and (device.type != "cuda" or device.index is not None):
        return device
    if device is None or device == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be one of {DEVICES} or a torch device such as 'cuda:1', "
                         f"got {device!r}") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r}: no CUDA GPU is available on this machine "
                             "(use 'auto' or 'cpu')")
        if dev.index is None:
            from .distributed import local_rank

            dev = torch.device("cuda", local_rank())
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"device={device!r}: Apple's MPS is not available on this machine")
    return dev
