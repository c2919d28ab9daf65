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
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import aiohttp

from bench import long_messages, understanding
from bench.nlu_eval import evaluate_holdout
from bench.understanding import RestBot
from bot.stack import Service, Stack, credentials_env, free_port, newest_model
from bot.tenants import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent
REPORT_MD = PROJECT_ROOT / "bench" / "report.md"
REPORT_JSON = PROJECT_ROOT / "bench" / "report.json"

# What one member says in one conversation, per society. A conversation is
# one member's visit: the load runs a script under a fresh sender id, then the
# next member starts. (The long-conversation row keeps one sender throughout.)
OUR_SCRIPTS: list[tuple[str | None, list[str]]] = [
    ("kose", [
        "こんにちは",
        "初期パスワードを教えてください",
        "ワンタイムパスワードのメールが届かない",
        "ポータルのURLは？",
        "アカウントがロックされました",
        "ユーザーIDを忘れました",
        "パスワードの条件は？",
        "ログアウトはどうやるの",
        "ありがとう",
    ]),
    ("ono", [
        "こんにちは",
        "初期パスワードを教えてください",
        "ワンタイムパスワードが通りません",
        "QRコードが読み取れない",
        "ポータルのURLは？",
        "アカウントがロックされました",
        "ユーザーIDを忘れました",
        "＋ボタンが出てこない",
        "ありがとう",
    ]),
]
STOCK_SCRIPTS: list[tuple[str | None, list[str]]] = [
    (None, ["hello", "I am sad", "yes", "great", "are you a bot?", "bye"]),
]

TARGETS = {
    "macro_f1": 0.95,
    "holdout_accuracy": 0.98,
    "p50_1_ms": 50,
    "p95_20_ms": 400,
    "throughput_20": 50,
    "rss_mb": 1200,
    "train_s": 300,
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def conversation(
    session: aiohttp.ClientSession,
    url: str,
    tag: str,
    scripts: list[tuple[str | None, list[str]]],
    count: int,
    deadline: float,
    latencies: list[float],
    errors: list[str],
    one_sender: bool = False,
    headers: dict[str, str] | None = None,
) -> None:
    """Send ``count`` messages: script after script, each under a new sender id.

    With ``one_sender`` every message goes to the same conversation instead.
    The scripts rotate, so consecutive members come from different societies.
    """
    sent = 0
    member = 0
    while sent < count:
        tenant, script = scripts[member % len(scripts)]
        sender = tag if one_sender else f"{tag}-m{member}"
        member += 1
        for text in script:
            if sent >= count or time.monotonic() > deadline:
                return
            sent += 1
            body: dict[str, Any] = {"sender": sender, "message": text}
            if tenant:
                body["metadata"] = {"tenant": tenant}
            start = time.perf_counter()
            try:
                async with session.post(url, json=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors.append(f"HTTP {resp.status}")
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                errors.append(type(e).__name__)
                continue
            latencies.append((time.perf_counter() - start) * 1000)


async def load(
    rasa_url: str, scripts: list[tuple[str | None, list[str]]], conversations: int,
    per_conversation: int, max_seconds: float, tag: str, one_sender: bool = False,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    url = f"{rasa_url}/webhooks/rest/webhook"
    latencies: list[float] = []
    errors: list[str] = []
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=conversations + 5)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        # warm up every code path once
        warm = sum(len(script) for _, script in scripts)
        await conversation(session, url, f"{tag}-warm", scripts, warm, time.monotonic() + 60, [], [],
                           headers=headers)
        deadline = time.monotonic() + max_seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                conversation(session, url, f"{tag}-{conversations}-{i}", scripts,
                             per_conversation, deadline, latencies, errors, one_sender, headers)
                for i in range(conversations)
            )
        )
        elapsed = time.perf_counter() - started
    return {
        "conversations": conversations,
        "one_sender": one_sender,
        "messages": len(latencies),
        "errors": len(errors),
        "p50_ms": round(pct(latencies, 50), 1),
        "p95_ms": round(pct(latencies, 95), 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "messages_per_s": round(len(latencies) / elapsed, 1) if elapsed else None,
    }


def resident_memory_mb(pid: int) -> dict[str, float]:
    """Resident memory of a process and all its descendants, in MB: in all, anonymous, file-backed.

    File-backed pages (TensorFlow's libraries, the Sudachi dictionary) are clean
    copies of files that the kernel may drop and read again; how many of them
    are resident at a given moment varies from run to run, so the report shows
    the two parts beside the total.
    """
    kb = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    pids = [pid]
    seen = set()
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            status = Path(f"/proc/{p}/status").read_text()
            for line in status.splitlines():
                key = line.split(":", 1)[0]
                if key in kb:
                    kb[key] += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return {"rss_mb": round(kb["VmRSS"] / 1024, 1), "rss_anon_mb": round(kb["RssAnon"] / 1024, 1),
            "rss_file_mb": round(kb["RssFile"] / 1024, 1)}


def measure_load(rasa_url: str, scripts: list[tuple[str | None, list[str]]], tag: str,
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
    single = asyncio.run(load(rasa_url, scripts, 1, 200, 60, tag, headers=headers))
    concurrent = asyncio.run(load(rasa_url, scripts, 20, 30, 90, tag, headers=headers))
    long = asyncio.run(load(rasa_url, scripts, 1, 200, 90, f"{tag}-long", one_sender=True, headers=headers))
    return {"single": single, "concurrent": concurrent, "long": long}


def median_of_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each load's figures as the median over the rounds (errors: the sum)."""
    out: dict[str, Any] = {}
    for load_name in ("single", "concurrent", "long"):
        runs = [r[load_name] for r in rounds]
        merged = dict(runs[0])
        for key in ("p50_ms", "p95_ms", "mean_ms", "messages_per_s", "messages"):
            values = [run[key] for run in runs if run.get(key) is not None]
            merged[key] = round(statistics.median(values), 1) if values else None
        merged["errors"] = sum(run["errors"] for run in runs)
        out[load_name] = merged
    return out


def time_training(workdir: Path) -> float:
    out = workdir / "train-models"
    start = time.perf_counter()
    subprocess.run(
        [str(VENV_BIN / "rasa"), "train", "--force", "--out", str(out), "--fixed-model-name", "bench"],
        cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return round(time.perf_counter() - start, 1)


def _our_stack(model: Path, workdir: Path) -> Stack:
    """Our whole stack (portal, action server, Rasa) on free loopback ports, not started."""
    env = {
        "KOSMO_TRACKER_DB_URL": f"sqlite:///{workdir / 'tracker.db'}",
        "KOSMO_PORTAL_DB_URL": f"sqlite:///{workdir / 'portal.db'}",
        "KOSMO_REVIEW_DB_URL": f"sqlite:///{workdir / 'review.db'}",
        "KOSMO_PORTAL_SERVICE_TOKEN": "bench-service-token",
        "KOSMO_PORTAL_ADMIN_TOKEN": "bench-admin-token",
        "RASA_AUTH_TOKEN": secrets.token_hex(16),  # bot.serve wants 16+ random characters
        **credentials_env(),
    }
    return Stack(model=model, rasa_port=free_port(), actions_port=free_port(),
                 portal_port=free_port(), smtp_port=free_port(), web_port=free_port(), env=env,
                 log_dir=workdir / "logs-ours")


@contextlib.contextmanager
def our_server(model: Path, workdir: Path) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Our whole stack, started; yields the Rasa URL, pid and REST headers."""
    stack = _our_stack(model, workdir)
    with stack:
        rasa = stack.service("rasa")
        assert rasa.process is not None
        yield stack.rasa_url, rasa.process.pid, {"Authorization": f"Bearer {stack.env['KOSMO_REST_TOKEN']}"}


@contextlib.contextmanager
def our_stack(model: Path | None = None) -> Iterator[RestBot]:
    """Our whole stack in a temporary folder, as a :class:`bench.understanding.RestBot`."""
    model = model or Path(os.environ.get("KOSMO_MODEL") or newest_model())
    workdir = Path(tempfile.mkdtemp(prefix="kosmo-understanding-"))
    try:
        stack = _our_stack(model, workdir)
        with stack:
            yield RestBot(stack.rasa_url, stack.env["RASA_AUTH_TOKEN"], stack.env.get("KOSMO_REST_TOKEN"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def init_stock(workdir: Path) -> tuple[Path, float]:
    """`rasa init` (which trains) in a temp folder; returns the folder and the seconds it took."""
    stock = workdir / "stock"
    stock.mkdir(parents=True)  # `rasa init --init-dir` wants an existing folder
    start = time.perf_counter()
    subprocess.run(
        [str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(stock)],
        cwd=workdir, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    return stock, round(time.perf_counter() - start, 1)


@contextlib.contextmanager
def stock_server(stock: Path, workdir: Path) -> Iterator[tuple[str, int, dict[str, str]]]:
    port = free_port()
    service = Service(
        "stock-rasa",
        [str(VENV_BIN / "rasa"), "run", "--enable-api", "--port", str(port),
         "--interface", "127.0.0.1", "--model", str(stock / "models")],
        ready_url=f"http://127.0.0.1:{port}/",
        describe="stock bot",
        cwd=stock,  # its own endpoints.yml and credentials.yml, not ours
    )
    service.start({**os.environ, "RASA_TELEMETRY_ENABLED": "false"}, workdir / "logs-stock")
    try:
        deadline = time.monotonic() + 240
        while not service.is_ready():
            if service.exited() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"stock bot did not start:\n{service.log_tail()}")
            time.sleep(0.5)
        assert service.process is not None
        yield f"http://127.0.0.1:{port}", service.process.pid, {}
    finally:
        service.stop()


def measure_rounds(servers: dict[str, tuple[str, int, dict[str, str]]], rounds: int) -> dict[str, Any]:
    """The same loads on each server, in alternating order, ``rounds`` times.

    This machine's speed drifts by tens of percent over minutes; alternating
    the servers round by round lets them share the drift, and the medians
    keep one slow or fast spell from deciding a figure.
    """
    scripts = {"ours": OUR_SCRIPTS, "stock": STOCK_SCRIPTS}
    per_server: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for i in range(rounds):
        order = list(servers) if i % 2 == 0 else list(reversed(servers))
        for name in order:
            print(f"  round {i + 1}/{rounds}: {name}", flush=True)
            url, _pid, headers = servers[name]
            per_server[name].append(measure_load(url, scripts[name], f"{name}-r{i}", headers))
    results: dict[str, Any] = {}
    for name, runs in per_server.items():
        results[name] = {**median_of_rounds(runs), "rounds": runs, **resident_memory_mb(servers[name][1])}
    return results


async def holdout(model: Path) -> dict[str, Any]:
    from rasa.core.agent import load_agent

    agent = await load_agent(model_path=str(model))
    result = await evaluate_holdout(agent, PROJECT_ROOT / "tests" / "nlu")
    return {"examples": result.examples, "accuracy": round(result.accuracy, 4),
            "macro_f1": round(result.macro_f1, 4), "misses": result.misses}


def measure_understanding(model: Path) -> dict[str, Any]:
    """The understanding sets against our whole stack: the evaluation set, and the development set for reference."""
    with our_stack(model) as bot:
        summaries = {
            name: understanding.evaluate(bot, understanding.load_items(path)).summary()
            for name, path in understanding.SETS.items()
        }
    summaries["eval"]["misses"] = []  # the evaluation set only measures (see write_report)
    return summaries


def understanding_rows(u: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    """The evaluation set's headline figures as rows of the main table."""
    if not u:
        return []
    e = u["eval"]
    worst = min(e["categories"].items(), key=lambda kv: kv[1]["accuracy"])
    t = understanding.TARGETS
    return [
        ("members as they write: right (evaluation set)", f"{e['accuracy']:.3f}", "—", "—", "≥ 0.92",
         verdict(e["accuracy"], t["accuracy"], True)),
        (f"… weakest category ({worst[0]})", f"{worst[1]['accuracy']:.3f}", "—", "—", "≥ 0.85",
         verdict(worst[1]["accuracy"], t["category_accuracy"], True)),
        ("… asked back", f"{e['ask_rate']:.3f}", "—", "—", "—", ""),
        ("… answered wrongly without asking", f"{e['confident_wrong_rate']:.3f}", "—", "—", "≤ 0.03",
         verdict(e["confident_wrong_rate"], t["confident_wrong_rate"], False)),
    ]


def verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    return "meets" if ok else "misses"


def ratio(ours: float | None, stock: float | None) -> str:
    if not ours or not stock:
        return "n/a"
    return f"{ours / stock:.2f}x"


def write_report(r: dict[str, Any]) -> str:
    o, s = r["ours"], r.get("stock") or {}
    os1, oc, ol = o["single"], o["concurrent"], o.get("long", {})
    ss1, sc, sl = s.get("single", {}), s.get("concurrent", {}), s.get("long", {})
    rows = [
        ("held-out intent macro-F1", f"{r['nlu']['macro_f1']:.3f}", "—", "—", "≥ 0.95",
         verdict(r["nlu"]["macro_f1"], TARGETS["macro_f1"], True)),
        ("held-out intent accuracy (clean, one-topic questions)", f"{r['nlu']['accuracy']:.3f}", "—", "—",
         "≥ 0.98", verdict(r["nlu"]["accuracy"], TARGETS["holdout_accuracy"], True)),
        *understanding_rows(r.get("understanding")),
        ("1 conversation p50 (ms)", os1["p50_ms"], ss1.get("p50_ms"), ratio(os1["p50_ms"], ss1.get("p50_ms")),
         "≤ 50", verdict(os1["p50_ms"], TARGETS["p50_1_ms"], False)),
        ("1 conversation p95 (ms)", os1["p95_ms"], ss1.get("p95_ms"), ratio(os1["p95_ms"], ss1.get("p95_ms")), "—", ""),
        ("20 concurrent p50 (ms)", oc["p50_ms"], sc.get("p50_ms"), ratio(oc["p50_ms"], sc.get("p50_ms")), "—", ""),
        ("20 concurrent p95 (ms)", oc["p95_ms"], sc.get("p95_ms"), ratio(oc["p95_ms"], sc.get("p95_ms")),
         "≤ 400", verdict(oc["p95_ms"], TARGETS["p95_20_ms"], False)),
        ("20 concurrent messages/s", oc["messages_per_s"], sc.get("messages_per_s"),
         ratio(oc["messages_per_s"], sc.get("messages_per_s")), "≥ 50",
         verdict(oc["messages_per_s"], TARGETS["throughput_20"], True)),
        ("1 conversation of 200 messages p50 (ms)", ol.get("p50_ms"), sl.get("p50_ms"),
         ratio(ol.get("p50_ms"), sl.get("p50_ms")), "—", ""),
        ("Rasa server RSS (MB)", o["rss_mb"], s.get("rss_mb"), ratio(o["rss_mb"], s.get("rss_mb")),
         "≤ 1200", verdict(o["rss_mb"], TARGETS["rss_mb"], False)),
        ("training time (s)", r.get("train_s"), s.get("init_and_train_s"),
         ratio(r.get("train_s"), s.get("init_and_train_s")), "≤ 300",
         verdict(r.get("train_s"), TARGETS["train_s"], False)),
    ]
    lines = [
        f"# Benchmark — {r['date']}",
        "",
        f"Machine: {r['machine']}. Model: `{r['model']}`. Stock bot: `rasa init` (Rasa 3.6.21, default config).",
        f"Held-out set: {r['nlu']['examples']} examples, accuracy {r['nlu']['accuracy']:.3f}.",
        f"Errors during load: ours {os1['errors'] + oc['errors'] + ol.get('errors', 0)}, "
        f"stock {ss1.get('errors', 'n/a')}/{sc.get('errors', 'n/a')}/{sl.get('errors', 'n/a')}.",
        "",
        "| measure | ours | stock | ours/stock | target | |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c if c is not None else 'n/a'} | {d} | {e} | {f} |" for a, b, c, d, e, f in rows]
    lines += ["", "Stock training time includes `rasa init` writing its files."]
    if o.get("rss_anon_mb") is not None:
        lines.append(
            f"RSS after the load, anonymous + file-backed (MB): ours {o['rss_anon_mb']} + {o['rss_file_mb']}"
            + (f", stock {s['rss_anon_mb']} + {s['rss_file_mb']}" if s.get("rss_anon_mb") is not None else "")
            + "."
        )
    lines.append("")
    rounds = r.get("rounds")
    if rounds:
        lines += [f"Load figures are medians of {rounds} rounds; the servers ran side by side and took "
                  "turns, in alternating order. 20 concurrent, round by round (p95 ms / messages/s):", ""]
        for name, result in (("ours", o), ("stock", s)):
            runs = result.get("rounds") or []
            if runs:
                per_round = ", ".join(f"{x['concurrent']['p95_ms']} / {x['concurrent']['messages_per_s']}" for x in runs)
                lines.append(f"- {name}: {per_round}")
        lines.append("")
    if r.get("understanding"):
        u = r["understanding"]
        lines += understanding.report_rows(
            u["eval"], "Understanding members as they write: evaluation set (never trained on, never tuned against)")
        if "dev" in u:
            lines += [f"Development set (thresholds and rules were tuned on it): {u['dev']['items']} messages, "
                      f"accuracy {u['dev']['accuracy']:.1%}, asked back {u['dev']['ask_rate']:.1%}, "
                      f"wrong without asking {u['dev']['confident_wrong_rate']:.1%}.", ""]
        lines += ["The evaluation set's misses are not listed here or in report.json: it only measures, "
                  "and whoever tunes the bot works from the development set "
                  "(`python -m bench.understanding --set dev`).", ""]
    if r.get("long_messages"):
        lines += long_messages.report_rows(r["long_messages"])
    if r["nlu"]["misses"]:
        lines += ["Held-out misses:", ""]
        lines += [f"- {m['text']} — expected `{m['expected']}`, got `{m['predicted']}` ({m['confidence']})"
                  for m in r["nlu"]["misses"]]
    return "\n".join(lines) + "\n"


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
