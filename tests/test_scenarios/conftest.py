"""Scenarios run whole (tiny) active-learning jobs, single-threaded as the
engine tests do."""
from test_engine.conftest import single_thread_torch  # noqa: F401
