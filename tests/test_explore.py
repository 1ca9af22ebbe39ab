"""The GA plumbing on tiny networks: constraints, infeasible case, resume, determinism, backends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hlsgen.cli import main
from hlsgen.explore.costing import explore_cost
from hlsgen.explore.devices import Budget, budget_for, device
from hlsgen.explore.evaluation import evaluate_genome, expected_flips, fitness, sampling_margin
from hlsgen.explore.run import ExploreOptions, explore, make_eval_data
from tests.factory import random_graph, random_input

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "digits_cnn.onnx"
EXAMPLE_DATA = REPO / "examples" / "digits_test.npz"
EXAMPLE_CAL = REPO / "examples" / "digits_calib.npz"

BIG = Budget(10**9, 10**9, 0, 10**6, "test")
FAST = dict(population=6, generations=3, workers=1, ladder=("exact", "terms:2", "po2"))


def _tiny_problem_inputs(seed=3, labelled=True):
    graph = random_graph(seed, layers=("conv", "dwconv", "dense"))
    x = random_input(graph, 48, seed)
    exact = make_eval_data(graph, x, None, 0)
    labels = exact.reference_pred.copy() if labelled else None
    if labels is not None:
        labels[:4] = (labels[:4] + 1) % 2  # a few "wrong" labels so top-1 < 100
    return graph, make_eval_data(graph, x, labels, 0)


def test_every_feasible_design_meets_the_constraints(tmp_path):
    graph, data = _tiny_problem_inputs()
    options = ExploreOptions(max_accuracy_drop=2.0, **FAST)
    result = explore(graph, data, BIG, options, tmp_path, cost_fn=explore_cost)
    assert result.evaluations, "the search evaluated nothing"
    for e in result.evaluations:
        assert e.feasible == (_needed_drop(result.problem, e.genome) <= 2.0 + 1e-9
                              and e.luts <= BIG.luts and e.dsps <= BIG.dsps)
    exact = result.baselines["exact"]
    assert exact.feasible and exact.accuracy_drop == 0.0
    assert result.chosen is not None
    assert fitness(result.chosen) == max(fitness(e) for e in result.evaluations if e.feasible)
    # the front holds only feasible, mutually non-dominated designs
    for a in result.front:
        assert a.feasible
        for b in result.front:
            assert not (b.luts <= a.luts and b.latency_cycles <= a.latency_cycles
                        and b.metric >= a.metric and (b.luts, b.latency_cycles, b.metric)
                        != (a.luts, a.latency_cycles, a.metric))


def _needed_drop(problem, genome) -> float:
    """The drop a design must keep under the bound, from a direct run of it: the measured
    drop (no credit below 0) plus the sampling margin, which counts at least the flips the
    logits' noise predicts (the logit guard)."""
    from hlsgen.reference import execute

    data = problem.data
    design, _ = problem.design(genome)
    out = execute(design.graph, data.x_ir).reshape(len(data.x_ir), -1)
    pred = np.argmax(out, axis=1)
    drop = data.baseline - 100.0 * float(np.mean(pred == data.labels))
    assert problem.logit_guard
    return max(drop, 0.0) + sampling_margin(pred, data.reference_pred, problem.confidence_z,
                                            expected_flips(out, data.reference_out))


def test_expected_flips_weighs_the_noise_against_each_margin():
    reference = np.array([[100, 100, 0], [1000, 0, 0], [7, 7, 7]])
    # noise of 1 on every logit: sigma = 1.  Sample 0: the tie flips with probability 1/2,
    # the class 100 below never (erfc(50) is 0 in floating point); sample 1 never; sample 2:
    # two ties, 1/2 each, capped at 1.
    out = reference + 1
    assert expected_flips(out, reference) == 1.5
    assert expected_flips(reference, reference) == 0.0
    # more noise, more expected flips (sample 0's class at 100 below starts to count)
    assert expected_flips(reference + np.array([[60, -60, 60]]), reference) > 1.5


def test_the_logit_guard_counts_the_flips_the_noise_predicts():
    """A design whose observed flips are fewer than its logits' noise predicts is judged
    by the prediction: with the guard its sampling margin is larger."""
    from hlsgen.explore.problem import build_problem
    from hlsgen.reference import execute

    graph, data = _tiny_problem_inputs(seed=1)  # three classes; po2 flips 2 of 48
    margins = {}
    for guard in (True, False):
        problem = build_problem(graph, data, max_accuracy_drop=100.0, budget=BIG,
                                clock_mhz=200.0, cost_fn=explore_cost, ladder=("po2",),
                                confidence_z=2.0, logit_guard=guard)
        genome = problem.uniform_genome("po2")
        design, _ = problem.design(genome)
        out = execute(design.graph, data.x_ir).reshape(len(data.x_ir), -1)
        flips = int(np.count_nonzero(np.argmax(out, axis=1) != data.reference_pred))
        expected = expected_flips(out, data.reference_out)
        margins[guard] = sampling_margin(np.argmax(out, axis=1), data.reference_pred, 2.0,
                                         expected if guard else 0.0)
        assert evaluate_genome(problem, genome).feasible
    assert flips < expected, (flips, expected)  # the case the guard exists for
    assert margins[True] == 100.0 * 2.0 * np.sqrt(expected) / len(out)
    assert margins[False] == 100.0 * 2.0 * np.sqrt(flips) / len(out)


def test_evaluation_matches_a_direct_run_of_the_design():
    """Prefix caching must not change results: compare with the reference executor."""
    from hlsgen.reference import execute

    graph, data = _tiny_problem_inputs(seed=5)
    options = ExploreOptions(**FAST)
    from hlsgen.explore.problem import build_problem

    problem = build_problem(graph, data, max_accuracy_drop=1.0, budget=BIG,
                            clock_mhz=options.clock_mhz, cost_fn=explore_cost,
                            ladder=options.ladder)
    rng = np.random.default_rng(0)
    for _ in range(6):
        genome = tuple(int(rng.integers(0, n)) for n in problem.gene_space)
        e = evaluate_genome(problem, genome)
        design, _ = problem.design(genome)
        pred = np.argmax(execute(design.graph, data.x_ir).reshape(len(data.x_ir), -1), axis=1)
        assert e.metric == 100.0 * float(np.mean(pred == data.labels))


def test_infeasible_budget_reports_closest_designs(tmp_path, capsys):
    code = main(["explore", str(EXAMPLE), "-o", str(tmp_path / "x"), "--data", str(EXAMPLE_DATA),
                 "--calibration", str(EXAMPLE_CAL), "--limit", "60", "--lut-budget", "10",
                 "--ff-budget", "10", "--dsp-budget", "0", "--bram-budget", "0",
                 "--population", "4", "--generations", "1", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 4
    assert "no design meets every constraint" in err
    assert "luts +" in err and "closest designs" in err


def _cli_explore(outdir: Path, *extra: str) -> int:
    return main(["explore", str(EXAMPLE), "-o", str(outdir), "--data", str(EXAMPLE_DATA),
                 "--calibration", str(EXAMPLE_CAL), "--limit", "120", "--population", "6",
                 "--seed", "7", "--device", "xc7z020", *extra])


def test_same_seed_same_design_and_resume_gives_the_same_result(tmp_path):
    assert _cli_explore(tmp_path / "a", "--generations", "3", "--workers", "1") == 0
    assert _cli_explore(tmp_path / "b", "--generations", "3", "--workers", "2") == 0
    # interrupted after 1 generation, then resumed to 3
    assert _cli_explore(tmp_path / "c", "--generations", "1", "--workers", "1") == 0
    assert _cli_explore(tmp_path / "c", "--generations", "3", "--workers", "1",
                        "--resume") == 0
    design = (tmp_path / "a" / "design.json").read_bytes()
    assert (tmp_path / "b" / "design.json").read_bytes() == design
    assert (tmp_path / "c" / "design.json").read_bytes() == design
    assert (tmp_path / "a" / "pareto.csv").read_bytes() == (tmp_path / "c" / "pareto.csv"
                                                             ).read_bytes()
    chosen = json.loads(design)
    assert set(chosen["methods"]) and set(chosen["pipeline"]) == set(chosen["methods"])
    assert (tmp_path / "a" / "pareto.png").stat().st_size > 0


def test_device_table():
    assert device("xc7z020clg400-1").luts == 53_200
    for name in ("xc7z020", "xc7a100t", "xc7a200t", "xczu3eg", "xczu7ev", "xczu9eg", "xcku115",
                 "xcvu9p"):
        b = budget_for(device(name))
        assert 0 < b.luts < device(name).luts
    # The LUT budget keeps the model margin of the 80 % ceiling in reserve; the others do not.
    z020 = budget_for(device("xc7z020"), lut_margin=0.05)
    assert (z020.luts, z020.ffs, z020.dsps) == (40_432, 85_120, 176)
    assert budget_for(device("xc7z020"), lut_margin=0).luts == 42_560


def test_bad_options_are_reported(tmp_path, capsys):
    code = main(["explore", str(EXAMPLE), "-o", str(tmp_path), "--device", "xc9999",
                 "--calibration", str(EXAMPLE_CAL)])
    assert code == 2
    assert "unknown device 'xc9999'" in capsys.readouterr().err


def test_dask_local_cluster_gives_the_same_evaluations(tmp_path):
    import distributed  # a dev dependency: this test always runs
    graph, data = _tiny_problem_inputs(seed=11)
    options = ExploreOptions(**FAST)
    local = explore(graph, data, BIG, options, tmp_path / "local", cost_fn=explore_cost)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote_options = ExploreOptions(**{**FAST, "workers": 1}, scheduler=cluster.scheduler_address)
        remote = explore(graph, data, BIG, remote_options, tmp_path / "dask",
                         cost_fn=explore_cost)
    assert [e.genome for e in remote.evaluations] == [e.genome for e in local.evaluations]
    assert remote.chosen == local.chosen


def test_ladders_built_in_worker_processes_are_the_same(monkeypatch):
    import hlsgen.decompose.methods as methods
    from hlsgen.explore.problem import build_problem

    monkeypatch.setattr(methods, "_SPLIT_WORK", 0)  # split every exact search into pieces

    graph, data = _tiny_problem_inputs(seed=7)
    kwargs = dict(max_accuracy_drop=1.0, budget=BIG, clock_mhz=200.0, cost_fn=explore_cost,
                  ladder=("exact", "terms:2", "lcc:sqnr=20,fold=1", "po2"))
    seen = []
    serial = build_problem(graph, data, **kwargs)
    parallel = build_problem(graph, data, jobs=2, progress=lambda *a: seen.append(a), **kwargs)
    assert seen and all(total == len(seen) for _, _, total in seen)
    assert [[c.method for c in ladder] for ladder in serial.ladders] == [
        [c.method for c in ladder] for ladder in parallel.ladders]
    for a_ladder, b_ladder in zip(serial.ladders, parallel.ladders):
        for a, b in zip(a_ladder, b_ladder):
            assert [g.adders for g in a.impl.graphs] == [g.adders for g in b.impl.graphs]
            assert np.array_equal(a.layer.weight, b.layer.weight)
            assert np.array_equal(a.layer.requant.multiplier, b.layer.requant.multiplier)
            assert np.array_equal(a.layer.requant.shift, b.layer.requant.shift)


def test_local_search_moves_stay_in_the_gene_space():
    from hlsgen.explore.problem import build_problem

    graph, data = _tiny_problem_inputs(seed=3)
    problem = build_problem(graph, data, max_accuracy_drop=1.0, budget=BIG, clock_mhz=200.0,
                            cost_fn=explore_cost, ladder=FAST["ladder"])
    genome = problem.uniform_genome("exact", pipeline_levels=1)
    moves = problem.neighbours(genome)
    assert moves and len(set(moves)) == len(moves)
    for move in moves:
        assert len(move) == len(genome)
        assert all(0 <= g < n for g, n in zip(move, problem.gene_space))
        assert sum(a != b for a, b in zip(move, genome)) == 1  # one gene changes
    cheapest = tuple(n - 1 for n in problem.gene_space)
    # from the coarsest, deepest, smallest design only a faster datapath is a move
    n = len(problem.ladders)
    assert sorted(problem.neighbours(cheapest)) == sorted(
        cheapest[:i] + (cheapest[i] - 1,) + cheapest[i + 1:] for i in range(2 * n, 3 * n))


def test_the_rate_matched_seed_shrinks_trees_without_lengthening_the_interval():
    from hlsgen.design import DatapathKind, KindChoice
    from hlsgen.explore.problem import build_problem
    from hlsgen.hw import estimate_design, plan_hardware

    # a wide 3x3 conv on 6x6 pixels, then a conv after a stride-2 pool: fewer pixels
    graph = random_graph(5, ("conv", "maxpool", "conv", "dense"), max_channels=6, max_hw=6)
    data = make_eval_data(graph, random_input(graph, 8, 5), None, 0)
    problem = build_problem(graph, data, max_accuracy_drop=100.0, budget=BIG,
                            clock_mhz=200.0, cost_fn=explore_cost, ladder=FAST["ladder"])
    whole = problem.uniform_genome("exact", datapath=KindChoice(DatapathKind.MULTIPLEXED))
    matched = problem.rate_matched_genome("exact")
    n = len(problem.ladders)
    assert matched[:2 * n] == whole[:2 * n]  # methods and pipelining untouched
    kinds = problem.kinds(matched)
    assert all(k.kind is DatapathKind.MULTIPLEXED for k in kinds.values())
    assert any(k.chunks > 1 for k in kinds.values())
    (a, _), (b, _) = problem.design(whole), problem.design(matched)
    assert (plan_hardware(b).schedule.interval_cycles
            == plan_hardware(a).schedule.interval_cycles)
    assert estimate_design(b).luts < estimate_design(a).luts
    # a faster seed: the busiest layers get lanes, the interval shrinks, the design grows
    fast = problem.rate_matched_genome("exact", speedup=4)
    assert any(k.lanes > 1 for k in problem.kinds(fast).values())
    c, _ = problem.design(fast)
    assert (plan_hardware(c).schedule.interval_cycles
            < plan_hardware(a).schedule.interval_cycles)
    assert estimate_design(c).luts > estimate_design(b).luts
