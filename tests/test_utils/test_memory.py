"""Available memory as the herding budget reads it."""
from mmseg_al.utils import memory


def test_cpu_memory_is_memavailable_in_bytes(tmp_path, monkeypatch):
    meminfo = tmp_path / 'meminfo'
    meminfo.write_text('MemTotal:       16000000 kB\n'
                       'MemFree:         1000000 kB\n'
                       'MemAvailable:    8000000 kB\n')
    monkeypatch.setattr(memory, 'MEMINFO', str(meminfo))
    assert memory.available_memory('cpu') == 8000000 * 1024


def test_cpu_memory_is_none_where_not_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, 'MEMINFO', str(tmp_path / 'missing'))
    assert memory.available_memory() is None
