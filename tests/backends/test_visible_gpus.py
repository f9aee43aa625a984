"""GPU counting: the driver's answer where it has one, else the physical GPUs under CUDA_VISIBLE_DEVICES."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinnlma.backends.legate.visible import count_gpus, physical_gpus, visible_count


@pytest.mark.parametrize(
    "visible,expected",
    [
        (None, 4),  # unset: all
        ("", 0),  # set and empty: none
        ("0", 1),
        ("2,3", 2),
        ("3,1,0", 3),
        ("0,1,7,2", 2),  # the list ends at the first index that is no GPU
        ("1,-1,0", 1),
        ("0,zero,1", 1),
        ("0,0,1", 1),  # a repeated entry ends it too
        (" 1 , 2 ", 2),
        ("GPU-8d1f5c2a-0000-0000-0000-000000000000", 1),
        ("MIG-4b2e0000-1111-2222-3333-444444444444,MIG-5c3f0000-1111-2222-3333-444444444444", 2),
        ("MIG-GPU-8d1f5c2a-0000/1/0", 1),  # the older MIG-GPU-<uuid>/gi/ci form
    ],
)
def test_cuda_visible_devices_rules(visible: str | None, expected: int) -> None:
    assert visible_count(4, visible) == expected


def test_no_physical_gpu_means_none_whatever_the_variable() -> None:
    assert visible_count(0, None) == 0 and visible_count(0, "0,1") == 0


def fake_proc(tmp_path: Path, gpus: int) -> Path:
    proc = tmp_path / "gpus"
    proc.mkdir()
    for i in range(gpus):
        (proc / f"0000:{i:02x}:00.0").mkdir()
    return proc


class FakeDriver:
    """cuInit/cuDeviceGetCount as the driver answers them (it applies the variable and MIG itself)."""

    def __init__(self, init_rc: int, count: int) -> None:
        self.init_rc, self.count = init_rc, count

    def cuInit(self, flags: int) -> int:
        return self.init_rc

    def cuDeviceGetCount(self, ref) -> int:
        ref._obj.value = self.count
        return 0


def test_the_driver_count_wins(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, 8)
    # 8 physical GPUs, the driver sees 3 MIG instances: the driver is right
    assert count_gpus(FakeDriver(0, 3), proc, {"CUDA_VISIBLE_DEVICES": "MIG-a,MIG-b,MIG-c"}) == 3


def test_without_a_working_driver_the_variable_filters_the_physical_gpus(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, 8)
    assert physical_gpus(proc) == 8
    assert count_gpus(None, proc, {}) == 8
    assert count_gpus(None, proc, {"CUDA_VISIBLE_DEVICES": "6,7"}) == 2
    assert count_gpus(FakeDriver(100, 0), proc, {"CUDA_VISIBLE_DEVICES": ""}) == 0  # CUDA_ERROR_NO_DEVICE
    assert count_gpus(None, tmp_path / "absent", {}) == 0


def test_the_process_environment_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = fake_proc(tmp_path, 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert count_gpus(None, proc) == 1
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert count_gpus(None, proc) == 2
