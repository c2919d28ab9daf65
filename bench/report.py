"""``bench/report.md``: the bench's figures against their targets, ours beside the stock bot's."""

from __future__ import annotations

from typing import Any

from bench import long_messages, understanding

TARGETS = {
    "macro_f1": 0.95,
    "holdout_accuracy": 0.98,
    "p50_1_ms": 50,
    "p95_20_ms": 400,
    "throughput_20": 50,
    "rss_mb": 1200,
    "train_s": 300,
}


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
    lines += [f"The held-out set's misses ({r['nlu']['missed']}) are not listed here or in report.json either: "
              "model settings are chosen on the clean development set (`python -m bench.nlu_eval --set dev`).", ""]
    return "\n".join(lines) + "\n"
