"""Every rank ends a round's head training with rank 0's head.

Every rank trains the same head on the same gathered features with the
same seed, so on the CPU the heads are equal already; on GPUs,
non-deterministic kernels may make them drift apart by rounding, and ranks
would then score and evaluate with different heads. Broadcasting the
trained tensors (the head is small) rules that out.
"""
from mmengine.dist import broadcast, get_world_size
from torch import nn


def broadcast_trained_state(model: nn.Module) -> None:
    """Copy rank 0's trainable parameters and all buffers to every rank.

    Args:
        model: the point model; frozen parameters (the UNet) are left out.
    """
    if get_world_size() == 1:
        return
    for parameter in model.parameters():
        if parameter.requires_grad:
            broadcast(parameter.data, src=0)
    for buffer in model.buffers():
        broadcast(buffer, src=0)
