"""`make bench`: measure our bot and the stock `rasa init` bot in the same run.

Writes bench/report.md (and bench/report.json):
- intent macro-F1 on the held-out set (tests/nlu, never trained on);
- REST reply latency with 1 conversation, and with 20 concurrent conversations
  each sending its next message as soon as it has the answer; messages/second.
  A conversation is one member's visit (a script of 9 messages for our bot, 6
  for the stock bot) under its own sender id; when it ends, the next member
  starts. For scale, one conversation that goes on for 200 messages is also
  measured (no target: the work per message grows with the conversation);
- training time (a fresh `rasa train --force` of our data);
- resident memory of the Rasa server after the load;
- long messages (``bench.long_messages``): a 2,000-character message's latency, and
  a bystander's p95 while long messages arrive, against its p95 without them
  (``--only-long-messages`` runs just these, on our server, and prints them).

Both servers run side by side and take turns with the same loads, in
alternating order, for several rounds (``--rounds``, default 3); the report
gives the median of the rounds and lists the concurrent figures of each. The
speed of this machine drifts by tens of percent over minutes, so one round
alone can flatter or punish either bot.

The stock bot is `rasa init --no-prompt` (default config, English) in a temp
folder, served by the same Rasa, measured by the same client.

The parts: ``bench.servers`` starts both bots, ``bench.load`` runs the loads and
reads memory, ``bench.report`` writes the report; this module runs them in order.

Every loop is bounded in count and time and talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import long_messages, understanding
from bench.load import measure_rounds
from bench.nlu_eval import SETS as CLEAN_SETS
from bench.nlu_eval import evaluate_holdout
from bench.report import write_report
from bench.servers import VENV_BIN, init_stock, our_server, our_stack, stock_server
from bot.domain.societies import PROJECT_ROOT
from dev.stack import newest_model

REPORT_MD = PROJECT_ROOT / "bench" / "report.md"
REPORT_JSON = PROJECT_ROOT / "bench" / "report.json"


def time_training(workdir: Path) -> float:
    out = workdir / "train-models"
    start = time.perf_counter()
    subprocess.run(
        [str(VENV_BIN / "rasa"), "train", "--force", "--out", str(out), "--fixed-model-name", "bench"],
        cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return round(time.perf_counter() - start, 1)


async def holdout(model: Path) -> dict[str, Any]:
    from rasa.core.agent import load_agent

    agent = await load_agent(model_path=str(model))
    result = await evaluate_holdout(agent, CLEAN_SETS["heldout"])
    return {"examples": result.examples, "accuracy": round(result.accuracy, 4),
            "macro_f1": round(result.macro_f1, 4), "missed": len(result.misses)}


def measure_understanding(model: Path) -> dict[str, Any]:
    """The understanding sets against our whole stack: the evaluation set, and the development set for reference."""
    with our_stack(model) as bot:
        summaries = {
            name: understanding.evaluate(bot, understanding.load_items(path)).summary()
            for name, path in understanding.SETS.items()
        }
    summaries["eval"]["misses"] = []  # the evaluation set only measures (see write_report)
    return summaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--skip-stock", action="store_true", help="do not measure the stock bot")
    parser.add_argument("--skip-train", action="store_true", help="do not time a fresh training")
    parser.add_argument("--rounds", type=int, default=3, help="load rounds per server (medians are reported)")
    parser.add_argument("--only-long-messages", action="store_true",
                        help="only the long-message figures, on our server; printed, no report written")
    args = parser.parse_args(argv)
    model = args.model or Path(os.environ.get("KOSMO_MODEL") or newest_model())
    workdir = Path(tempfile.mkdtemp(prefix="kosmo-bench-"))
    if args.only_long_messages:
        try:
            with our_server(model, workdir) as (url, _pid, headers):
                print("long messages ...", flush=True)
                result = long_messages.run(url, headers)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(json.dumps(result, ensure_ascii=False, indent=2))
        print("\n".join(long_messages.report_rows(result)))
        return 0
    report: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "model": model.name,
    }
    try:
        print("held-out NLU ...", flush=True)
        report["nlu"] = asyncio.run(holdout(model))
        if not args.skip_train:
            print("training time ...", flush=True)
            report["train_s"] = time_training(workdir)
        with contextlib.ExitStack() as running:
            servers = {"ours": running.enter_context(our_server(model, workdir))}
            if not args.skip_stock:
                print("stock bot (rasa init) ...", flush=True)
                stock, init_s = init_stock(workdir)
                servers["stock"] = running.enter_context(stock_server(stock, workdir))
            print(f"load, {args.rounds} rounds ...", flush=True)
            measured = measure_rounds(servers, args.rounds)
            print("long messages ...", flush=True)
            url, _pid, headers = servers["ours"]
            report["long_messages"] = long_messages.run(url, headers)
        print("understanding (tests/understanding, evaluation and development sets) ...", flush=True)
        report["understanding"] = measure_understanding(model)
        report["rounds"] = args.rounds
        report["ours"] = measured["ours"]
        if "stock" in measured:
            report["stock"] = {**measured["stock"], "init_and_train_s": init_s}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    REPORT_JSON.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    text = write_report(report)
    REPORT_MD.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
