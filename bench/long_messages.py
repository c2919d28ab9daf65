"""Long messages: what one costs, and whether they slow anyone else down.

Three figures, on our Rasa server over REST (``python -m bench --only-long-messages``
runs just these; ``make bench`` adds them to the report):

- the latency of a 2,000-character message (the channels' limit, varied text,
  read by the whole NLU), each under a fresh sender id;
- a bystander's p95: one member's conversation (the bench's scripts) alone;
- for comparison, the same bystander's p95 while another client sends ordinary
  20-character messages back to back (any flood costs the server something);
- the same bystander's p95 while another client sends messages over the limit
  back to back: 20,000 characters (refused by the channel with the "too long"
  answer, never parsed) and 100,000 characters (a 600 KB body, refused with 413
  before it is read), in turn. This should be no worse than the ordinary flood;
- the same bystander's p95 while another client sends 2,000-character messages
  (at the limit, so read by the NLU) back to back. The Rasa server parses on one
  event loop, so a bystander's message that arrives during one waits for it:
  this is the price of the limit, and why it is a setting
  (``KOSMO_MAX_MESSAGE_CHARS``);
- long messages as they would arrive from several members: an open loop of
  ``STEADY_RATE`` messages a second (each under a fresh sender id, sent on
  schedule whether or not the earlier ones have been answered), 2,000
  characters, against the same rate of ordinary 20-character messages. The
  bystander here is paced like a person (``PACED_GAP_S``: a random pause
  between getting an answer and sending the next message), so that its
  messages meet the stream at random moments: a back-to-back bystander keeps
  the server busy itself and meets few of the arrivals. The bystander's p95 in
  both rows, and alone at the same pace, is the "unchanged while long messages
  arrive" figure; one more row has long messages at ``RARE_RATE`` (one a
  second), nearer to how often members write that much.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from typing import Any, Dict, List, Optional

import aiohttp

# varied text, as a real long message would have (a repeated kana compresses to few tokens)
LONG_SOURCE = (
    "先週から初めてポータルにログインしようとしているのですが、記号と番号と生年月日を入れても"
    "パスワードが違うと表示されます。ワンタイムパスワードのメールも届きません。迷惑メールの"
    "フォルダも確認しました。アカウントがロックされたのかもしれません。ユーザーIDも忘れてしまい、"
    "ＱＲコードも読み取れず、Authenticatorの＋ボタンも出てこないので困っています。"
)
BYSTANDER_SCRIPT = [
    ("kose", "こんにちは"),
    ("kose", "初期パスワードを教えてください"),
    ("kose", "ワンタイムパスワードのメールが届かない"),
    ("kose", "ポータルのURLは？"),
    ("kose", "アカウントがロックされました"),
    ("kose", "ありがとう"),
]
# the open-loop rows: messages a second from the stream, the paced bystander's
# pause between an answer and its next message (seconds, uniform), its messages
STEADY_RATE = 4.0
# nearer to life: a message at the limit is rare; one a second over all members is already many
RARE_RATE = 1.0
PACED_GAP_S = (0.05, 0.25)
PACED_MESSAGES = 100
# at most this many stream messages unanswered at once (more are not sent, and counted)
STEADY_MAX_IN_FLIGHT = 32


def long_text(chars: int) -> str:
    return (LONG_SOURCE * (chars // len(LONG_SOURCE) + 1))[:chars]


def pct(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))], 1)


async def _send(
    session: aiohttp.ClientSession, url: str, headers: Dict[str, str], sender: str, text: str,
    society: str = "kose",
) -> tuple[int, float]:
    body = {"sender": sender, "message": text, "metadata": {"tenant": society}}
    start = time.perf_counter()
    async with session.post(url, json=body, headers=headers) as resp:
        await resp.read()
        return resp.status, (time.perf_counter() - start) * 1000


async def _bystander(
    session: aiohttp.ClientSession, url: str, headers: Dict[str, str], messages: int,
    stop: Optional[asyncio.Event] = None, deadline: Optional[float] = None,
    pauses: Optional[random.Random] = None,
) -> List[float]:
    """The bystander's script (a new member every script), until ``messages`` or ``deadline``.

    With ``pauses``, a random pause (``PACED_GAP_S``) after each answer; ``stop`` is set at the end.
    """
    latencies: List[float] = []
    member = f"bystander-{uuid.uuid4().hex[:8]}"
    for i in range(messages):
        if deadline is not None and time.monotonic() > deadline:
            break
        society, text = BYSTANDER_SCRIPT[i % len(BYSTANDER_SCRIPT)]
        if i % len(BYSTANDER_SCRIPT) == 0:
            member = f"bystander-{uuid.uuid4().hex[:8]}"
        status, ms = await _send(session, url, headers, member, text, society)
        if status == 200:
            latencies.append(ms)
        if pauses is not None:
            await asyncio.sleep(pauses.uniform(*PACED_GAP_S))
    if stop is not None:
        stop.set()
    return latencies


async def _flood(
    url: str, headers: Dict[str, str], sizes: tuple[int, ...], stop: asyncio.Event, deadline: float,
) -> Dict[str, Any]:
    """Messages of ``sizes`` characters in turn, back to back, until ``stop``: latencies and statuses."""
    seen: Dict[str, List[float]] = {str(n): [] for n in sizes}
    statuses: Dict[str, int] = {}
    texts = {n: long_text(n) for n in sizes}
    i = 0
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:  # its own connections
        while not stop.is_set() and time.monotonic() < deadline:
            chars = sizes[i % len(sizes)]
            i += 1
            start = time.perf_counter()
            try:
                status, ms = await _send(session, url, headers, f"flood-{i}", texts[chars])
                outcome = str(status)
            except aiohttp.ClientError:
                # a 413 closes the connection unread: the client may see a reset instead
                ms, outcome = (time.perf_counter() - start) * 1000, "connection closed"
            seen[str(chars)].append(ms)
            key = f"{chars}: {outcome}"
            statuses[key] = statuses.get(key, 0) + 1
    return {"latencies": seen, "statuses": statuses}


async def _bystander_during(
    session: aiohttp.ClientSession, url: str, headers: Dict[str, str], messages: int,
    sizes: tuple[int, ...], max_seconds: float,
) -> tuple[List[float], Dict[str, Any]]:
    stop = asyncio.Event()
    flooding = asyncio.ensure_future(_flood(url, headers, sizes, stop, time.monotonic() + max_seconds))
    await asyncio.sleep(0.2)  # the flood is under way
    during = await _bystander(session, url, headers, messages, stop)
    return during, await flooding


async def _paced_bystander(
    session: aiohttp.ClientSession, url: str, headers: Dict[str, str], messages: int, seed: int,
    deadline: float,
) -> List[float]:
    """The bystander's script, with a random pause (``PACED_GAP_S``) after each answer."""
    return await _bystander(session, url, headers, messages, deadline=deadline, pauses=random.Random(seed))


async def _steady(
    url: str, headers: Dict[str, str], chars: int, rate: float, stop: asyncio.Event, deadline: float,
) -> Dict[str, Any]:
    """Open loop: a ``chars``-character message every 1/``rate`` s, each from a new sender, until ``stop``.

    Messages go out on schedule, answered or not (at most ``STEADY_MAX_IN_FLIGHT``
    unanswered; one due beyond that is not sent and is counted as skipped).
    """
    text = long_text(chars)
    latencies: List[float] = []
    statuses: Dict[str, int] = {}
    skipped = 0
    in_flight: set[asyncio.Task[None]] = set()
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=STEADY_MAX_IN_FLIGHT)

    async def one(session: aiohttp.ClientSession, sender: str) -> None:
        start = time.perf_counter()
        try:
            status, ms = await _send(session, url, headers, sender, text)
            outcome = str(status)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            ms, outcome = (time.perf_counter() - start) * 1000, "error"
        latencies.append(ms)
        statuses[f"{chars}: {outcome}"] = statuses.get(f"{chars}: {outcome}", 0) + 1

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:  # its own connections
        period = 1.0 / rate
        due = time.monotonic()
        while not stop.is_set() and time.monotonic() < deadline:
            if len(in_flight) < STEADY_MAX_IN_FLIGHT:
                task = asyncio.ensure_future(one(session, f"steady-{uuid.uuid4().hex[:12]}"))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            else:
                skipped += 1
            due += period
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        if in_flight:
            await asyncio.wait(in_flight, timeout=max(0.0, deadline - time.monotonic()) + 5)
    return {"latencies": {str(chars): latencies}, "statuses": statuses, "skipped": skipped}


async def _paced_bystander_during(
    session: aiohttp.ClientSession, url: str, headers: Dict[str, str], chars: Optional[int], seed: int,
    max_seconds: float, rate: float = STEADY_RATE,
) -> tuple[List[float], Optional[Dict[str, Any]]]:
    """The paced bystander alone (``chars`` None) or while ``rate`` messages of ``chars`` characters a second arrive."""
    deadline = time.monotonic() + max_seconds
    if chars is None:
        return await _paced_bystander(session, url, headers, PACED_MESSAGES, seed, deadline), None
    stop = asyncio.Event()
    stream = asyncio.ensure_future(_steady(url, headers, chars, rate, stop, deadline))
    await asyncio.sleep(0.5)  # the stream is under way
    try:
        during = await _paced_bystander(session, url, headers, PACED_MESSAGES, seed, deadline)
    finally:
        stop.set()
    return during, await stream


def _figures(latencies: List[float]) -> Dict[str, Any]:
    return {"messages": len(latencies), "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95)}


async def measure(rasa_url: str, headers: Dict[str, str], repeats: int = 20, bystander_messages: int = 120,
                  max_seconds: float = 180) -> Dict[str, Any]:
    """The three figures of the module docstring."""
    url = f"{rasa_url}/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        # warm up every code path once
        await _bystander(session, url, headers, len(BYSTANDER_SCRIPT))
        await _send(session, url, headers, "warm-long", long_text(2000))

        long_ms: List[float] = []
        answers = []
        for _ in range(repeats):
            status, ms = await _send(session, url, headers, f"long-{uuid.uuid4().hex[:8]}", long_text(2000))
            answers.append(status)
            long_ms.append(ms)

        alone = await _bystander(session, url, headers, bystander_messages)
        short, short_flood = await _bystander_during(session, url, headers, bystander_messages, (20,), max_seconds)
        over, over_flood = await _bystander_during(
            session, url, headers, bystander_messages, (20_000, 100_000), max_seconds
        )
        at, at_flood = await _bystander_during(session, url, headers, bystander_messages, (2000,), max_seconds)

        # open loop: the same seed, so the paced bystander pauses alike in the three rows
        paced_alone, _ = await _paced_bystander_during(session, url, headers, None, 13, max_seconds)
        paced_short, steady_short = await _paced_bystander_during(session, url, headers, 20, 13, max_seconds)
        paced_at, steady_at = await _paced_bystander_during(session, url, headers, 2000, 13, max_seconds)
        paced_rare, steady_rare = await _paced_bystander_during(
            session, url, headers, 2000, 13, max_seconds, rate=RARE_RATE
        )
    steady = {"rate_per_s": STEADY_RATE, "paced_gap_s": list(PACED_GAP_S)}
    return {
        "long_2000": {**_figures(long_ms), "statuses": sorted(set(answers)),
                      "mean_ms": round(statistics.fmean(long_ms), 1) if long_ms else None},
        "bystander_alone": _figures(alone),
        "bystander_during_short": _figures(short),
        "flood_short": {"statuses": short_flood["statuses"],
                        **{size: _figures(ms) for size, ms in short_flood["latencies"].items()}},
        "bystander_during_over_limit": _figures(over),
        "bystander_during_2000": _figures(at),
        "flood_over_limit": {"statuses": over_flood["statuses"],
                             **{size: _figures(ms) for size, ms in over_flood["latencies"].items()}},
        "flood_2000": {"statuses": at_flood["statuses"],
                       **{size: _figures(ms) for size, ms in at_flood["latencies"].items()}},
        "paced_bystander_alone": {**_figures(paced_alone), **steady},
        "paced_bystander_during_steady_short": {**_figures(paced_short), **steady},
        "steady_short": _steady_figures(steady_short),
        "paced_bystander_during_steady_2000": {**_figures(paced_at), **steady},
        "steady_2000": _steady_figures(steady_at),
        "paced_bystander_during_rare_2000": {**_figures(paced_rare), "rate_per_s": RARE_RATE},
        "rare_2000": _steady_figures(steady_rare),
    }


def _steady_figures(stream: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    assert stream is not None
    return {"statuses": stream["statuses"], "skipped": stream["skipped"],
            **{size: _figures(ms) for size, ms in stream["latencies"].items()}}


def report_rows(result: Dict[str, Any]) -> List[str]:
    """Markdown lines for the report."""
    over_flood, at_flood = result["flood_over_limit"], result["flood_2000"]
    rows = [
        ("a 2,000-character message, alone", result["long_2000"]),
        ("bystander, alone", result["bystander_alone"]),
        ("bystander, while ordinary 20-character messages arrive back to back", result.get("bystander_during_short")),
        ("  meanwhile: 20 characters, read", (result.get("flood_short") or {}).get("20")),
        ("bystander, while messages over the limit arrive back to back", result["bystander_during_over_limit"]),
        ("  meanwhile: 20,000 characters, answered \"too long\"", over_flood.get("20000")),
        ("  meanwhile: 100,000 characters, 413 unread", over_flood.get("100000")),
        ("bystander, while 2,000-character messages arrive back to back", result["bystander_during_2000"]),
        ("  meanwhile: 2,000 characters, read", at_flood.get("2000")),
    ]
    steady_short, steady_at = result.get("steady_short") or {}, result.get("steady_2000") or {}
    rate = (result.get("paced_bystander_alone") or {}).get("rate_per_s", STEADY_RATE)
    rows += [
        ("paced bystander (a pause after each answer), alone", result.get("paced_bystander_alone")),
        (f"paced bystander, while {rate:g} ordinary 20-character messages a second arrive (open loop, "
         "each from a new sender)", result.get("paced_bystander_during_steady_short")),
        ("  meanwhile: 20 characters, read", steady_short.get("20")),
        (f"paced bystander, while {rate:g} 2,000-character messages a second arrive (open loop, "
         "each from a new sender)", result.get("paced_bystander_during_steady_2000")),
        ("  meanwhile: 2,000 characters, read", steady_at.get("2000")),
        (f"paced bystander, while {RARE_RATE:g} 2,000-character message a second arrives (open loop)",
         result.get("paced_bystander_during_rare_2000")),
        ("  meanwhile: 2,000 characters, read", (result.get("rare_2000") or {}).get("2000")),
    ]
    lines = [
        "Long messages (our bot; `python -m bench --only-long-messages`):",
        "",
        "| measure | p50 (ms) | p95 (ms) | messages |",
        "|---|---|---|---|",
    ]
    lines += [f"| {label} | {f['p50_ms']} | {f['p95_ms']} | {f['messages']} |" for label, f in rows if f]
    statuses = {**over_flood.get("statuses", {}), **at_flood.get("statuses", {})}
    lines += ["", "Answers to the long messages: " + ", ".join(f"{k} ×{v}" for k, v in sorted(statuses.items()))]
    for label, stream in (("20", steady_short), ("2,000", steady_at)):
        if stream:
            answered = ", ".join(f"{k} ×{v}" for k, v in sorted(stream.get("statuses", {}).items()))
            lines += [f"Open loop, {label} characters: {answered}; not sent (too many unanswered): "
                      f"{stream.get('skipped', 0)}"]
    return lines + [""]


def run(rasa_url: str, headers: Dict[str, str]) -> Dict[str, Any]:
    return asyncio.run(measure(rasa_url, headers))
