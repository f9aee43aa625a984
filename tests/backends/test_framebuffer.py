"""Legate's framebuffer beside torch replicas: the plan, the LEGATE_CONFIG pinnlma sets, the advice."""

from __future__ import annotations

import pytest

from pinnlma.backends.legate.framebuffer import (
    LEGATE_FRACTION,
    MIB,
    SLICE_BYTES,
    SLICES_IN_FLIGHT,
    TORCH_CONTEXT_BYTES,
    config_value,
    info_lines,
    legate_config_for,
    plan_framebuffer,
)

GIB = 2**30
TORCH_NEED = TORCH_CONTEXT_BYTES + SLICES_IN_FLIGHT * SLICE_BYTES  # 3 GiB with the defaults


def test_shared_gpus_leave_torch_its_context_and_slices() -> None:
    plan = plan_framebuffer([80 * GIB] * 4, [0, 1])
    assert plan.shared == (0, 1) and plan.separate_gpus is None
    assert plan.fbmem_mib == int(LEGATE_FRACTION * (80 * GIB - TORCH_NEED)) // MIB
    assert plan.torch_bytes >= TORCH_NEED  # what torch keeps on each shared GPU
    assert plan.fbmem_mib * MIB + plan.torch_bytes == 80 * GIB
    assert "--fbmem" in plan.advice and "cuda:0,cuda:1" in plan.advice


def test_the_smallest_of_legates_gpus_sets_fbmem() -> None:
    plan = plan_framebuffer([40 * GIB, 16 * GIB, 80 * GIB], [2])
    assert plan.fbmem_mib == int(LEGATE_FRACTION * (16 * GIB - TORCH_NEED)) // MIB
    assert plan.separate_gpus == 2 and "--gpus 2" in plan.advice  # torch on cuda:2 only: could separate


def test_separate_gpus_need_no_fbmem() -> None:
    plan = plan_framebuffer([80 * GIB] * 4, [2, 3], legate_gpus=2)
    assert plan.shared == () and plan.fbmem_mib is None and "separate" in plan.advice
    idle = plan_framebuffer([80 * GIB] * 2, [])
    assert idle.fbmem_mib is None and "default" in idle.advice


def test_a_gpu_too_small_to_share_says_separate() -> None:
    plan = plan_framebuffer([4 * GIB] * 2, [0])
    assert plan.fbmem_mib is None and "separate" in plan.advice
    with pytest.raises(ValueError, match="cuda:5 is not one of the 2"):
        plan_framebuffer([4 * GIB] * 2, [5])


def test_config_values() -> None:
    assert config_value("--gpus 2 --fbmem 30000", "--fbmem") == 30000
    assert config_value("--fbmem=1200 --cpus 1", "--fbmem") == 1200
    assert config_value("--gpus 2", "--fbmem") is None and config_value("--gpus 2", "--gpus") == 2
    assert config_value("--zcmem 10", "--fbmem") is None


def test_legate_config_pinnlma_sets_or_advises() -> None:
    sizes = [80 * GIB] * 2
    config, notes = legate_config_for(None, sizes, [0])
    assert config == f"--fbmem {plan_framebuffer(sizes, [0]).fbmem_mib}" and notes
    assert legate_config_for(None, sizes, []) == (None, [])  # torch not on a GPU: Legate's default
    assert legate_config_for(None, [], [0]) == (None, [])  # no GPU
    # a user's config is never replaced: advice when it lets Legate take the shared GPUs' memory
    config, notes = legate_config_for("--gpus 2", sizes, [1])
    assert config is None and "no --fbmem" in notes[0] and "--fbmem" in notes[0]
    assert legate_config_for("--gpus 2 --fbmem 9000", sizes, [1]) == (None, [])
    assert legate_config_for("--gpus 1", sizes, [1]) == (None, [])  # separate GPUs already


def test_info_lines() -> None:
    assert "no CUDA GPU" in info_lines([])[0]
    lines = info_lines([141 * GIB] * 8)
    assert len(lines) == 3 and "--fbmem" in lines[1] and "--gpus 4" in lines[2] and "cuda:4,cuda:5" in lines[2]
