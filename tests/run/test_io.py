"""HDF5 run files: round trip, the contract's names, overwrite refusal, atomic writes, errors."""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from pinnlma.run.io import (
    REQUIRED_ATTRS,
    REQUIRED_HISTORY,
    RunFileError,
    RunRecord,
    read_run,
    save_checkpoint,
    write_run,
)

CONTRACT_DATASETS = (
    "history/iteration",
    "history/time",
    "history/loss",
    "history/rel_l2",
    "history/damping",
    "params",
    "solution/inputs",
    "solution/prediction",
    "solution/reference",
)


def make_record(reference: bool = True, **resume: object) -> RunRecord:
    n = 4
    x, t = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(0, 1, 3), indexing="ij")
    inputs = np.stack([x.ravel(), t.ravel()], axis=1)
    prediction = np.sin(inputs[:, :1]) * np.exp(-inputs[:, 1:])
    attrs = {
        "problem": "burgers",
        "optimizer": "lm",
        "backend": "torch",
        "dtype": "float64",
        "seed": 3,
        "n_params": 7,
        "n_residuals": 40,
        "status": "max_iter",
        "final_loss": 1.25e-4,
        "final_rel_l2": 3.5e-3 if reference else math.nan,
        "pinnlma_version": "0.1.0",
        "geodesic": False,
        "coordinates": "x,t",
        "iterations": n - 1,
        "elapsed": 0.5,
    }
    history = {
        "iteration": np.arange(n),
        "time": np.linspace(0, 0.5, n),
        "loss": np.logspace(0, -4, n),
        "rel_l2": np.array([1.0, np.nan, 0.1, 3.5e-3]),
        "damping": np.logspace(-3, -6, n),
        "loss/pde": np.logspace(-1, -5, n),
        "loss/initial": np.logspace(-1, -5, n),
        "param/nu": np.full(n, 0.01),
    }
    solution = {"inputs": inputs, "prediction": prediction}
    if reference:
        solution["reference"] = prediction + 1e-3
    state = {
        "optimizer": {
            "x": np.arange(7, dtype=np.float32),
            "iteration": 3,
            "first": False,
            "status": "running",
            "elapsed": 0.5,
            "damping": {"lam": 1e-6, "scaling": {"dmax": None, "d": np.ones(7)}},
            "history": {"cost": [1.0, 0.5, 0.25], "empty": {}},
            "scalar": np.array(2.5),
        },
        "sampler": {"method": "sobol", "seed": 3, "pcg64_state": "f" * 32},
        "torch_rng": np.arange(16, dtype=np.uint8),
        "points": {"pde": {"group0": np.zeros((5, 2))}, "a/b": {"c": np.ones(2)}},
        "note": None,
    }
    state.update(resume)
    return RunRecord(attrs=attrs, history=history, params=np.linspace(0, 1, 7), solution=solution, resume=state)


def assert_tree_equal(a: object, b: object, where: str = "resume") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (where, a, b)
        for key in a:
            assert_tree_equal(a[key], b[key], f"{where}/{key}")
    elif a is None:
        assert b is None, where
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, np.ndarray), where
        np.testing.assert_array_equal(np.asarray(a), b)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and b.dtype == a.dtype and b.shape == a.shape, (where, b)
        np.testing.assert_array_equal(a, b)
    else:
        assert type(b) is type(a) and b == a, (where, a, b)


def test_round_trip(tmp_path: Path) -> None:
    record = make_record()
    path = write_run(tmp_path / "run.h5", record)
    back = read_run(path)
    assert back.attrs.keys() == record.attrs.keys()
    for key, value in record.attrs.items():
        assert type(back.attrs[key]) is type(value), key
        assert back.attrs[key] == value or (isinstance(value, float) and math.isnan(value)), key
    assert back.history.keys() == record.history.keys()
    for key, value in record.history.items():
        np.testing.assert_array_equal(back.history[key], value)
        assert back.history[key].dtype == value.dtype
    np.testing.assert_array_equal(back.params, record.params)
    for key in ("inputs", "prediction", "reference"):
        np.testing.assert_array_equal(back.solution[key], record.solution[key])
    assert_tree_equal(record.resume, back.resume)
    assert isinstance(back.resume["optimizer"]["history"]["cost"], np.ndarray)  # lists of floats → arrays


def test_contract_names(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run.h5", make_record())
    with h5py.File(path, "r") as f:
        for key in REQUIRED_ATTRS:
            assert key in f.attrs, key
        for name in CONTRACT_DATASETS:
            assert isinstance(f.get(name), h5py.Dataset), name
        assert f["history/loss"].shape == (4,)
        assert f["params"].shape == (7,)
        assert f["solution/inputs"].shape == (15, 2)
        assert isinstance(f.get("resume"), h5py.Group)
        assert isinstance(f.get("history/loss:pde"), h5py.Dataset)  # "/" in a key is escaped
        assert f.attrs["problem"] == "burgers" and math.isnan(f.attrs["final_rel_l2"]) is False
    assert set(REQUIRED_HISTORY) == {"iteration", "time", "loss", "rel_l2", "damping"}


def test_missing_reference_written_as_nan(tmp_path: Path) -> None:
    record = make_record(reference=False)
    path = write_run(tmp_path / "run.h5", record)
    with h5py.File(path, "r") as f:
        assert f["solution/reference"].shape == f["solution/prediction"].shape
        assert np.isnan(f["solution/reference"][()]).all()
    back = read_run(path)
    assert np.isnan(back.solution["reference"]).all()
    assert math.isnan(back.attrs["final_rel_l2"])


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write_run(tmp_path / "run.h5", make_record())
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_run(path, make_record(reference=False))
    assert path.read_bytes() == before
    write_run(path, make_record(reference=False), overwrite=True)
    assert np.isnan(read_run(path).solution["reference"]).all()


def test_checkpoint_replaces(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "run.h5"  # parent folders are created
    save_checkpoint(path, make_record())
    record = make_record()
    record.attrs["status"] = "running"
    save_checkpoint(path, record)
    assert read_run(path).attrs["status"] == "running"
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.h5"]


@pytest.mark.parametrize("bad", [object(), {"deep": [1.0, "mixed"]}, 2**80])
def test_atomic_when_writing_fails_midway(tmp_path: Path, bad: object) -> None:
    path = write_run(tmp_path / "run.h5", make_record())
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write_run(path, make_record(broken=bad), overwrite=True)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["run.h5"]  # no temporary file left behind
    with pytest.raises(TypeError):
        write_run(tmp_path / "new.h5", make_record(broken=bad))
    assert os.listdir(tmp_path) == ["run.h5"]


def test_validation_names_what_is_missing(tmp_path: Path) -> None:
    record = make_record()
    del record.attrs["seed"], record.attrs["status"]
    with pytest.raises(ValueError, match="seed, status"):
        write_run(tmp_path / "a.h5", record)
    record = make_record()
    del record.history["damping"]
    with pytest.raises(ValueError, match="damping"):
        write_run(tmp_path / "a.h5", record)
    record = make_record()
    del record.solution["prediction"]
    with pytest.raises(ValueError, match="prediction"):
        write_run(tmp_path / "a.h5", record)
    record = make_record()
    record.history["time"] = np.zeros(3)
    with pytest.raises(ValueError, match="different lengths"):
        write_run(tmp_path / "a.h5", record)
    record = make_record()
    record.attrs["config"] = {"nested": 1}
    with pytest.raises(ValueError, match="config"):
        write_run(tmp_path / "a.h5", record)
    record = make_record()
    record.solution["reference"] = np.zeros(3)
    with pytest.raises(ValueError, match="reference"):
        write_run(tmp_path / "a.h5", record)
    assert not any(tmp_path.iterdir())


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_run(tmp_path / "missing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(RunFileError, match="not an HDF5 file"):
        read_run(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.zeros(3)
        f.attrs["problem"] = "x"
    with pytest.raises(RunFileError, match="not a pinnlma run file: missing attribute optimizer"):
        read_run(other)
    assert issubclass(RunFileError, ValueError)
