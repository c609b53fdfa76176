"""``python -m logreg bench``'s tables run end to end (tiny shapes: the ratios are
not the targets' figures here, only their presence and bookkeeping are checked)."""
import numpy as np

from logreg import _bench


def test_fit_table_times_every_side_at_the_optimum(monkeypatch):
    monkeypatch.setattr(_bench, "FIT_TARGETS", [((3000, 5, 3), 6.0)])
    monkeypatch.setattr(_bench, "MNLOGIT_TARGET", ((3000, 5, 3), 30.0))
    rows = _bench.fit_table(repeats=1)
    assert [r["what"].split(",")[0] for r in rows] == ["Whole fit", "Whole fit"]
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
    # the seed row comes with its two yardsticks of the machine's limit
    whats = [r["what"] for r in rows]
    seed = next(i for i, w in enumerate(whats) if "seed" in w)
    assert "large square dgemm" in whats[seed + 1] and "U^T V" in whats[seed + 2]
    for row in rows:
        assert row["ratio"] is None or row["ratio"] > 0


def test_inference_table_runs_both_sides(monkeypatch):
    monkeypatch.setattr(_bench, "MARGINS_PEER_ROWS", 500)
    monkeypatch.setattr(_bench, "SCORE_PEER_COLUMNS", 2)
    rows = _bench.inference_table(repeats=1, shapes=((2000, 4, 3), (1000, 3, 3, 20)))
    assert [r["what"].split(" ")[0] for r in rows] == ["Marginal", "20"]
    for row in rows:
        assert row["ratio"] is not None and np.isfinite(row["ratio"]) and row["ratio"] > 0
        assert row["met"] == (row["ratio"] >= row["target"])
        assert "statsmodels" in row["note"] and "x" in row["note"]   # the scaling is stated
