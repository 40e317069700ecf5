"""maildrift benchmarks (``make bench``): speed goals live here, never in unit tests.

Figures: median, p99 and n of each measurement, printed as a table and
written to bench/results/latest.json.  docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "daemon"))
sys.path.insert(0, TOP)

from maildrift.engine.evaluate import evaluate  # noqa: E402
from maildrift.filestore import TreeReader  # noqa: E402
from maildrift.loading import load_mail_config  # noqa: E402
from maildrift.policyload import load_site_policy  # noqa: E402
from maildrift.wiring import build_sources  # noqa: E402

STOCK_POSTFIX = os.path.join(TOP, "tests/postfix/corpus/stock-debian")
STOCK_DOVECOT = os.path.join(TOP, "tests/dovecot/corpus/stock")
DEMO = os.path.join(TOP, "demo")
OVAL_ID = "oval:ssg-postfix_network_listening_disabled:def:1"
OVAL_FILE = "/usr/share/xml/scap/ssg/content/ssg-rhel9-oval.xml"


def stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered) * 1e3, "p99_ms": p99 * 1e3, "n": len(ordered)}


def timed(function, n: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


def stock_tree(directory: str) -> str:
    postfix = os.path.join(directory, "etc/postfix")
    shutil.copytree(STOCK_POSTFIX, postfix)
    shutil.copytree(STOCK_DOVECOT, os.path.join(directory, "etc/dovecot"))
    for name in os.listdir(postfix):
        # Postfix pauses on a main.cf written within the last seconds.
        os.utime(os.path.join(postfix, name), (0, 0))
    return directory


def bench_model(root: str, n: int) -> dict:
    """Parse and build the effective model of the stock trees, in-process."""
    from maildrift.dovecot.loader import load_dovecot
    from maildrift.loading import dovecot_defaults
    from maildrift.postfix.loader import load_postfix_instances
    from maildrift.postfix.usage import known_names

    sources = build_sources(root=root, postfix_version="3.7")
    defaults = dovecot_defaults("2.3")

    def build():
        reader = TreeReader(root)
        configs = load_postfix_instances(
            "/etc/postfix", reader, sources.defaults, sources.facts, sources.params
        )
        for name in configs[0].main.names():
            configs[0].expanded(name)
        known_names(configs[0])
        load_dovecot("/etc/dovecot/dovecot.conf", reader, defaults=defaults).check_conflicts()

    model = stats(timed(build, n))
    postfix_dir = os.path.join(root, "etc/postfix")
    dovecot_conf = os.path.join(root, "etc/dovecot/dovecot.conf")

    def spawn():
        subprocess.run(["postconf", "-c", postfix_dir, "-n"], capture_output=True, check=True)
        subprocess.run(["doveconf", "-c", dovecot_conf, "-n"], capture_output=True, check=True)

    spawned = stats(timed(spawn, max(20, n // 10), warmup=2))
    return {
        "model": model,
        "postconf_n_plus_doveconf_n": spawned,
        "ratio_median": model["median_ms"] / spawned["median_ms"],
        "goal_ratio": 0.25,
    }


def _fresh_evaluations(
    policy, sources, n: int, now, pause_gc: bool, traced: bool = False
) -> tuple[list[float], list[float]]:
    """(evaluate, load) times, each evaluation on a model loaded just before it.

    A fresh model per run: evaluating one model again and again would measure
    the model's own memos, which a changed configuration never has.  With
    ``pause_gc`` the collector is paused over the load and the evaluation, as
    ``maildrift check`` (checkcmd.run_check) and the daemon run them.  The
    evaluation is check's, untraced, unless ``traced`` asks for the daemon's,
    which records what each rule reads for the next evaluation.
    """
    for _ in range(5):
        evaluate(policy, load_mail_config(sources), (), now, traced=traced)
    evaluations, loads = [], []
    for _ in range(n):
        if pause_gc:
            gc.disable()
        try:
            start = time.perf_counter()
            mail = load_mail_config(sources)
            loaded = time.perf_counter()
            evaluate(policy, mail, (), now, traced=traced)
            evaluations.append(time.perf_counter() - loaded)
            loads.append(loaded - start)
        finally:
            gc.enable()
    return evaluations, loads


def bench_check(stock_root: str, n: int) -> dict:
    """A full evaluation in-process: the stock trees (the goal) and the hardened demo tree.

    The goal figure is ``evaluate`` on a freshly loaded model, untraced and
    with the collector paused, as ``maildrift check`` runs it; beside it the
    same with the collector on, and the daemon's traced form.
    """
    policy = load_site_policy()
    now = datetime.now(timezone.utc)
    figures = {"goal_ms": 2.0, "rules": len(policy.rules)}
    for name, root in (("stock", stock_root), ("demo", DEMO)):
        sources = build_sources(
            root=root, host_facts=os.path.join(DEMO, "host-facts.yaml"), postfix_version="3.7"
        )
        evaluations, loads = _fresh_evaluations(policy, sources, n, now, pause_gc=True)
        collecting, _ = _fresh_evaluations(policy, sources, n, now, pause_gc=False)
        traced, _ = _fresh_evaluations(policy, sources, n, now, pause_gc=True, traced=True)
        figures[name] = {
            "results": len(evaluate(policy, load_mail_config(sources), (), now).results),
            "evaluate": stats(evaluations),
            "evaluate_collector_on": stats(collecting),
            "evaluate_traced_as_the_daemon": stats(traced),
            "load": stats(loads),
            "load_and_evaluate": stats([a + b for a, b in zip(evaluations, loads)]),
        }
    return figures


_FIRST = """
import gc, os, sys, time
from datetime import datetime, timezone
from maildrift.engine.evaluate import evaluate
from maildrift.loading import load_mail_config
from maildrift.policyload import load_site_policy
from maildrift.wiring import build_sources
root, facts = sys.argv[1], sys.argv[2]
policy = load_site_policy()
sources = build_sources(root=root, host_facts=facts, postfix_version="3.7")
gc.disable()
mail = load_mail_config(sources)
start = time.perf_counter()
evaluate(policy, mail, (), datetime.now(timezone.utc), traced=False)
print(time.perf_counter() - start)
"""


def bench_first_evaluation(stock_root: str, n: int) -> dict:
    """The first evaluation in a new process: no value text parsed before (one-shot check)."""
    env = dict(os.environ, PYTHONPATH=os.path.join(TOP, "daemon"))
    facts = os.path.join(DEMO, "host-facts.yaml")
    samples = []
    for _ in range(n):
        done = subprocess.run(
            [sys.executable, "-c", _FIRST, stock_root, facts],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        samples.append(float(done.stdout.strip()))
    return stats(samples)


def bench_process(n: int) -> dict:
    """maildrift check as a whole process against oscap oval eval of one SSG definition."""
    command = [
        sys.executable,
        "-m",
        "maildrift",
        "check",
        "--root",
        DEMO,
        "--host-facts",
        os.path.join(DEMO, "host-facts.yaml"),
        "--postfix-version",
        "3.7",
    ]
    env = dict(os.environ, PYTHONPATH=os.path.join(TOP, "daemon"))
    result = {
        "maildrift_check": stats(
            timed(lambda: subprocess.run(command, capture_output=True, env=env, check=False), n, 1)
        )
    }
    if shutil.which("oscap") and os.path.exists(OVAL_FILE):
        oscap = ["oscap", "oval", "eval", "--id", OVAL_ID, OVAL_FILE]
        result["oscap_oval_eval"] = stats(
            timed(lambda: subprocess.run(oscap, capture_output=True, check=False), n, 1)
        )
        result["ratio_median"] = (
            result["maildrift_check"]["median_ms"] / result["oscap_oval_eval"]["median_ms"]
        )
    else:
        result["oscap_oval_eval"] = "not installed (openscap-scanner, ssg-nondebian)"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="runs per in-process measurement")
    parser.add_argument("--process-runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        results = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}",
            "model_vs_spawn": bench_model(stock_tree(directory), args.n),
            "check_in_process": bench_check(directory, args.n),
            "first_evaluation_in_new_process": bench_first_evaluation(directory, args.process_runs),
            "check_process_vs_oscap": bench_process(args.process_runs),
        }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "latest.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
