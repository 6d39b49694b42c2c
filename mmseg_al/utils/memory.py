"""How much memory a computation may still take on a device."""
from typing import Optional, Union

import torch

#: Where Linux reports the memory available to new allocations.
MEMINFO = '/proc/meminfo'


def available_memory(device: Union[str, torch.device] = 'cpu'
                     ) -> Optional[int]:
    """Bytes free for new allocations: free device memory on CUDA, the
    kernel's ``MemAvailable`` on CPU (None where it is not reported)."""
    device = torch.device(device)
    if device.type == 'cuda':
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open(MEMINFO, encoding='ascii') as meminfo:
            for line in meminfo:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return None
