"""``python -m logreg bench``'s tables run end to end (tiny shapes: the ratios are
not the targets' figures here, only their presence and bookkeeping are checked)."""
import numpy as np

from logreg import _bench


def test_fit_table_times_every_side_at_the_optimum(monkeypatch):
    monkeypatch.setattr(_bench, "FIT_TARGETS", [((3000, 5, 3), 6.0)])
    monkeypatch.setattr(_bench, "MNLOGIT_TARGET", ((3000, 5, 3), 30.0))
    rows = _bench.fit_table(repeats=1)
    assert [r["what"].split()[0] for r in rows] == ["fit", "fit"]
    for row in rows:
        assert row["ratio"] is not None and np.isfinite(row["ratio"]) and row["ratio"] > 0
        assert row["met"] == (row["ratio"] >= row["target"])
        assert row["note"].startswith("tol: logreg ")   # the tolerances each side needed


def test_at_the_optimum_picks_the_loosest_tolerance_that_reaches_it():
    class Fake:
        def __init__(self, tol):
            self.tol = tol

    objective = lambda m: 1.0 + m.tol  # noqa: E731  objective gap = tol
    tol, seconds, model = _bench._at_the_optimum(Fake, lambda m: m, objective, 1.0)
    assert tol == 1e-10 and model.tol == 1e-10 and seconds >= 0
    tol, _, _ = _bench._at_the_optimum(Fake, lambda m: m, lambda m: 1.0 + m.tol**2, 1.0)
    assert tol == 1e-6             # (1e-4)**2 = 1e-8 misses 1e-9, (1e-6)**2 reaches it
    tol, seconds, model = _bench._at_the_optimum(Fake, lambda m: m, lambda m: 2.0, 1.0)
    assert tol is None and seconds == np.inf and model is None


def test_kernel_table_quick_reports_every_target():
    rows = _bench.kernel_table(quick=True, repeats=1, grid=False)
    assert len(rows) >= 4
    # the NumPy reference row comes with its two yardsticks of the machine's limit
    whats = [r["what"] for r in rows]
    ref = next(i for i, w in enumerate(whats) if "NumPy reference" in w)
    assert "square dgemm" in whats[ref + 1] and "U^T V" in whats[ref + 2]
    for row in rows:
        assert row["ratio"] is None or row["ratio"] > 0
    # no internal references in what a user reads
    text = _bench.format_kernel_table(rows) + "\n".join(_bench.environment_lines())
    for internal in ("seed", "issue"):
        assert internal not in text.lower()


def test_bench_command_prints_versions_progress_and_a_narrow_table(monkeypatch, capsys):
    """``python -m logreg bench``: one progress line per row (stderr), the machine
    and library versions with the table, no column wider than the table needs."""
    calls = []

    def fake_row(run):
        calls.append((run.threads, run.repeats))
        return [_bench._row("fake row", (1000, 2, 3), "1 ms", "2 ms", 2.0, 1.0, "a note")]

    monkeypatch.setattr(_bench, "ROWS", [("first", fake_row, True), ("second", fake_row, False)])
    assert _bench.main(["--repeats", "2", "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    assert calls == [(1, 2)]                        # the quick subset only
    assert err.splitlines()[0].startswith("[1/1] first ...")
    assert "numpy " + np.__version__ in out and "machine:" in out
    table = out.split("\n\n", 1)[1]
    assert "fake row [1]" in table and "[1] a note" in table
    assert max(len(line) for line in table.splitlines()) < 100
    _bench.main(["--full", "--threads", "1"])
    assert len(calls) == 3


def test_bench_help_describes_the_subcommand(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_:
        _bench.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "python -m logreg bench" in out and "--full" in out and "--threads" in out
    for title, _, quick in _bench.ROWS:
        assert title in out


def test_inference_table_runs_both_sides(monkeypatch):
    monkeypatch.setattr(_bench, "MARGINS_PEER_ROWS", 500)
    monkeypatch.setattr(_bench, "SCORE_PEER_COLUMNS", 2)
    rows = _bench.inference_table(repeats=1, shapes=((2000, 4, 3), (1000, 3, 3, 20)))
    assert [r["what"].split(" ")[0] for r in rows] == ["Marginal", "20"]
    for row in rows:
        assert row["ratio"] is not None and np.isfinite(row["ratio"]) and row["ratio"] > 0
        assert row["met"] == (row["ratio"] >= row["target"])
        assert "statsmodels" in row["note"] and "x" in row["note"]   # the scaling is stated
