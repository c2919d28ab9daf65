"""The bench's load: members' conversations over REST, latency and throughput, resident memory.

:func:`measure_rounds` runs the same loads (1 conversation, 20 concurrent, one
long conversation) on each server in alternating order, round after round,
and reports the median of the rounds; every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp

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
        society, script = scripts[member % len(scripts)]
        sender = tag if one_sender else f"{tag}-m{member}"
        member += 1
        for text in script:
            if sent >= count or time.monotonic() > deadline:
                return
            sent += 1
            body: dict[str, Any] = {"sender": sender, "message": text}
            if society:
                body["metadata"] = {"tenant": society}
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
