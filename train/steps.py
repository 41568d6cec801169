"""One optimiser step of the training scripts: clipped gradients, progress every 20 steps, a time budget."""

from __future__ import annotations

import time

import numpy as np
import torch


def optimiser_step(
    loss: torch.Tensor, model: torch.nn.Module, opt, sched, losses: list[float], step: int, total: int, t0: float, minutes: float
) -> bool:
    """Apply ``loss``; True when the time budget is spent and training should stop."""
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad()
    losses.append(loss.item())
    if step % 20 == 0:
        print(f"step {step}/{total} loss {np.mean(losses[-50:]):.4f} {time.time() - t0:.0f}s", flush=True)
    return time.time() - t0 > minutes * 60
