"""``make bench``: measure the assistant over its REST channel, against Rasa's default pipeline.

    python -m tools.benchmark [--quick] [--out reports] [--model PATH] [--skip-training]

Full run: trains config.yml and the config of ``rasa init`` on data/ + domain.yml in a temp dir
(fresh cache, timed; kept in models/bench/ and reused while config, domain and data are unchanged,
see tools/model_cache.py; ``--retrain`` trains anyway), starts each model as ``make run`` does (bot.serve.Supervisor) on free ports
with its own SQLite tracker store, measures start-up, latency for 1/10/50 concurrent 10-turn
conversations, throughput, errors and peak memory, profiles this project's servers with py-spy,
and writes reports/bench-DATE.md (+ PNG plots and JSON).
``--quick``: the existing model, 1 and 10 conversations, no baseline, no training.
Run it under the Makefile's environment (``make bench``): config.yml needs OPVOED_SPACY_MODEL.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from bot.settings import PROJECT_ROOT
from tools import model_cache
from tools.benchmark import microbench, report, runner

logger = logging.getLogger("tools.benchmark")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 and 10 conversations, no baseline, no training")
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports")
    ap.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "opvoedmaatje.tar.gz",
                    help="the model to serve when not training (--quick or --skip-training)")
    ap.add_argument("--skip-training", action="store_true",
                    help="serve --model and --baseline-model instead of training both")
    ap.add_argument("--baseline-model", type=Path, help="a trained rasa-default model (with --skip-training)")
    ap.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=None,
                    help="concurrency levels, e.g. 1,10,50")
    ap.add_argument("--min-conversations", type=int, default=20,
                    help="at least this many conversations per level (whole rounds of the concurrency)")
    ap.add_argument("--profile-seconds", type=int, default=30, help="py-spy on this pipeline's servers; 0: none")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--retrain", action="store_true",
                    help="train even when models/bench/ holds a model of the same config, domain and data")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    levels = args.levels or ([1, 10] if args.quick else [1, 10, 50])
    with_baseline = not (args.quick or args.no_baseline)
    train = not (args.quick or args.skip_training)
    bench = report.Bench(dt.date.today().isoformat(), report.Machine.here(), args.quick, {})
    configs = {report.OURS: PROJECT_ROOT / "config.yml"}
    if with_baseline:
        configs[report.BASELINE] = model_cache.rasa_init_config()

    with tempfile.TemporaryDirectory(prefix="opv-bench-") as tmp:
        work = Path(tmp)
        models = {report.OURS: args.model, report.BASELINE: args.baseline_model}
        for name, config in configs.items():
            run = runner.PipelineRun(name, str(config.relative_to(PROJECT_ROOT)) if config.is_relative_to(PROJECT_ROOT)
                                     else "rasa init config.yml (Rasa's defaults)")
            bench.runs[name] = run
            if train:
                kept = None if args.retrain else model_cache.lookup(name, config)
                if kept is not None:
                    logger.info("%s: reusing the model trained from the same inputs", name)
                    models[name], run.training_s = kept
                    bench.notes.append(f"{name}: model and training time from an earlier run on the same "
                                       f"config, domain and data ({models[name].relative_to(PROJECT_ROOT)}).")
                else:
                    logger.info("training %s (full, fresh cache)", name)
                    trained, run.training_s = runner.train(config, work / "models", name)
                    models[name] = model_cache.store(name, trained, run.training_s, config)
            model = models[name]
            if model is None or not model.is_file():
                run.failure = f"no model to serve ({model})"
                continue
            logger.info("measuring %s", name)
            runner.measure(run, model, work / name, levels, args.min_conversations,
                           profile_seconds=args.profile_seconds if name == report.OURS else 0)
        bench.micro = microbench.run()
    if not train:
        bench.notes.append("Training was not measured in this run (--quick or --skip-training): "
                           "the served model is " + str(args.model.relative_to(PROJECT_ROOT)
                                                         if args.model.is_relative_to(PROJECT_ROOT) else args.model) + ".")
    path = report.write(bench, args.out)
    print(path.read_text(encoding="utf-8"))
    print(f"Report: {path}")
    return 1 if any(r.failure for r in bench.runs.values()) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
