"""Multi-rank launches: the rank from the launcher's environment, row ownership, one writer."""

from __future__ import annotations

import pytest

from pinnlma.ranks import is_writer, owned_rows, owned_tasks, process_rank


def test_rank_from_the_launcher_environment() -> None:
    assert process_rank({}) == (0, 1)
    assert process_rank({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"}) == (2, 4)
    assert process_rank({"SLURM_PROCID": "1", "SLURM_NTASKS": "3"}) == (1, 3)
    # Open MPI's pair is trusted before Slurm's (mpirun inside an allocation sets both)
    assert process_rank({"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "PMI_RANK": "1", "PMI_SIZE": "2"}) == (1, 2)
    with pytest.raises(ValueError, match="not a rank"):
        process_rank({"PMI_RANK": "3", "PMI_SIZE": "2"})
    with pytest.raises(ValueError, match="not integers"):
        process_rank({"PMI_RANK": "one"})


def test_rank_from_legates_peer_bootstrap() -> None:
    """``legate --launcher dask`` sets no MPI variable: each worker gets its address and all peers'."""
    peers = "127.0.0.1:50010 127.0.0.1:50011 127.0.0.1:50012"
    assert process_rank({"WORKER_SELF_INFO": "127.0.0.1:50011", "WORKER_PEERS_INFO": peers}) == (1, 3)
    assert process_rank({"WORKER_SELF_INFO": "127.0.0.1:50010", "WORKER_PEERS_INFO": peers}) == (0, 3)
    # trusted before the variables of a one-task Slurm job the dask cluster was started in
    both = {"WORKER_SELF_INFO": "127.0.0.1:50012", "WORKER_PEERS_INFO": peers, "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}
    assert process_rank(both) == (2, 3)
    assert not is_writer(both)
    with pytest.raises(ValueError, match="is not one of"):
        process_rank({"WORKER_SELF_INFO": "10.0.0.1:1", "WORKER_PEERS_INFO": peers})
    with pytest.raises(ValueError, match="is not one of"):
        process_rank({"WORKER_PEERS_INFO": peers})


def test_only_rank_zero_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID", "WORKER_PEERS_INFO"):
        monkeypatch.delenv(name, raising=False)
    assert is_writer()
    monkeypatch.setenv("PMI_RANK", "1")
    monkeypatch.setenv("PMI_SIZE", "2")
    assert not is_writer()
    assert is_writer({"PMI_RANK": "0", "PMI_SIZE": "2"})


@pytest.mark.parametrize("m,ranks", [(10, 3), (9, 3), (2, 4), (0, 2), (1000, 1)])
def test_rows_are_equal_tiles_covering_each_row_once(m: int, ranks: int) -> None:
    parts = [owned_rows(m, k, ranks) for k in range(ranks)]
    assert [i for p in parts for i in p] == list(range(m))
    tile = -(-m // ranks)
    assert all(p.start == min(m, k * tile) and len(p) <= tile for k, p in enumerate(parts))
    assert owned_rows(10, 2, 3) == range(8, 10)  # tiles 4, 4, 2
    with pytest.raises(ValueError):
        owned_rows(10, 3, 3)


def test_tasks_cut_blocks_at_the_rank_bounds() -> None:
    blocks = [7, 2, 6]  # 15 rows: tiles of 5 for 3 ranks
    assert owned_tasks(blocks, 0, 3, step=3) == [(0, slice(0, 3)), (0, slice(3, 5))]
    assert owned_tasks(blocks, 1, 3, step=3) == [(0, slice(5, 7)), (1, slice(0, 2)), (2, slice(0, 1))]
    assert owned_tasks(blocks, 2, 3, step=3) == [(2, slice(1, 4)), (2, slice(4, 6))]
    for ranks in (1, 2, 4, 20):  # every row exactly once, in order, whatever the number of ranks
        rows = [
            (b, i)
            for k in range(ranks)
            for b, s in owned_tasks(blocks, k, ranks, step=2)
            for i in range(s.start, s.stop)
        ]
        assert rows == [(b, i) for b, n in enumerate(blocks) for i in range(n)]


def test_only_rank_zero_writes_the_run_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pinnlma.backends import TorchBackend
    from pinnlma.pinn.registry import apply_options, load_problem
    from pinnlma.ranks import RowPartition
    from pinnlma.run import RunConfig, SetupError, solve

    for name in ("OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    problem = apply_options(load_problem("burgers"), quick=True, points=64, boundary_points=16, width=6, depth=2)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "0")
    with pytest.raises(SetupError, match="torch backend cannot sum the partials of the 2 ranks"):
        solve(problem, RunConfig(iters=1), out=tmp_path / "refused.h5", progress=False)
    assert not (tmp_path / "refused.h5").exists()
    with pytest.raises(SetupError, match="only the LM optimizer sums"):
        solve(problem, RunConfig(iters=1, optimizer="adam"), out=tmp_path / "refused.h5", progress=False)
    # a pretend cross-rank sum, as if the other rank's partial equalled this one's (the ranks run one after
    # the other here: there is no MPI to meet through)
    monkeypatch.setattr(
        TorchBackend,
        "row_partition",
        lambda self, environ=None: RowPartition.from_environment(lambda t: 2 * t, environ),
    )
    for rank in (1, 0):
        monkeypatch.setenv("PMI_RANK", str(rank))
        out = tmp_path / "run.h5"
        result = solve(problem, RunConfig(iters=1), out=out, progress=False)
        assert out.exists() == (rank == 0) and result.record.attrs["iterations"] == 1
        assert result.assembler.row_partition.rank == rank


def test_benches_validation_and_reproductions_refuse_a_multi_rank_launch(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """They time or compare work in one process; M ranks would each repeat all of it (and nothing is written)."""
    from pinnlma.cli import main
    from pinnlma.ranks import require_one_process
    from pinnlma.validation import pinnacle, problems

    require_one_process("x", {})  # one process: fine
    with pytest.raises(ValueError, match="rank 1 of a launch of 2"):
        require_one_process("pinnlma bench", {"PMI_RANK": "1", "PMI_SIZE": "2"})
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "3")
    assert main(["bench", "lm-step", "--quick", "--out", str(tmp_path)]) == 2
    assert "pinnlma bench runs in one process" in capsys.readouterr().err
    assert main(["reproduce", "taylor2022", "--tiny", "--out", str(tmp_path / "r")]) == 2
    assert "pinnlma reproduce runs in one process" in capsys.readouterr().err
    for module in (pinnacle, problems):
        with pytest.raises(SystemExit):
            module.main([])
        assert "rank 0 of a launch of 3" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
