"""Engine tests run (tiny) active-learning jobs on the CPU.

The machine's cores are shared, so torch runs single-threaded here: with
several processes competing, one thread is several times faster than two.
"""
import pytest
import torch


@pytest.fixture(autouse=True, scope='session')
def single_thread_torch():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
