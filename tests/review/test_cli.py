"""``python -m bot.review``: grouping, filters, every output format, the NLU skeleton, errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot.review.__main__ import main
from bot.review.store import ReviewRow, ReviewStore

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def row(
    text: str,
    kind: str = "clarification",
    society: str = "kose",
    channel: str = "widget",
    days_ago: float = 0.0,
    action: str = "action_clarify",
    guess: str | None = "faq",
    intent: str = "nlu_fallback",
) -> ReviewRow:
    return ReviewRow(
        at=NOW - dt.timedelta(days=days_ago),
        society=society,
        channel=channel,
        kind=kind,
        action=action,
        bot_actions=action,
        intent=intent,
        confidence=0.4,
        guess=guess,
        guess_confidence=0.3 if guess else None,
        text=text,
    )


ROWS = [
    row("QRコードが読めない", days_ago=1),
    row(
        "ＱＲコードが読めない ", society="ono", channel="line", days_ago=0.5
    ),  # same, once normalised
    row("qrコードが読めない", kind="fallback", action="utter_give_up", days_ago=0.1),
    row(
        "健診の予約をしたい",
        kind="out_of_scope",
        action="utter_out_of_scope",
        guess=None,
        intent="out_of_scope",
        days_ago=2,
    ),
    row(
        "健診の予約をしたい",
        kind="out_of_scope",
        action="utter_out_of_scope",
        guess=None,
        intent="out_of_scope",
        days_ago=20,
    ),
    row('=HYPERLINK("http://example.com")', days_ago=3),
    row("****", days_ago=0.2),
    row(
        '/choose_topic{"topic": "faq/qr"}',
        kind="handoff",
        action="action_offer_handoff",
        days_ago=4,
    ),
]


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'review.db'}"
    store = ReviewStore(url)
    store.add(ROWS)
    store.dispose()
    return url


def run(db_url: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db-url", db_url, *args], stdout=out, stderr=err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def test_json_groups_by_normalised_text_most_frequent_first(db_url):
    code, out, _ = run(db_url, "--format", "json")
    assert code == 0
    groups = json.loads(out)
    assert [g["count"] for g in groups] == [3, 2, 1, 1, 1]
    qr = groups[0]
    assert qr["text"] == "qrコードが読めない"  # the most recent spelling
    assert qr["kinds"] == {"clarification": 2, "fallback": 1}
    assert qr["societies"] == {"kose": 2, "ono": 1}
    assert qr["channels"] == {"widget": 2, "line": 1}
    assert qr["bot_actions"] == {"action_clarify": 2, "utter_give_up": 1}
    assert qr["nlu_intents"] == {"faq": 3}
    assert qr["last_seen"] == (NOW - dt.timedelta(days=0.1)).isoformat()
    assert groups[1]["text"] == "健診の予約をしたい" and groups[1]["kinds"] == {"out_of_scope": 2}


def test_text_format_reads_as_a_list(db_url):
    code, out, _ = run(db_url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "    3  「qrコードが読めない」"
    assert "kinds: clarification 2, fallback 1" in lines[1]
    assert "societies: kose 2, ono 1 · channels: widget 2, line 1" in lines[2]
    assert "bot: action_clarify 2, utter_give_up 1" in lines[3]
    assert "NLU: faq 3" in lines[4]
    assert "last seen: 2026-12-07 09:36 UTC" in lines[5]


def test_csv_has_a_header_and_never_a_formula(db_url):
    code, out, _ = run(db_url, "--format", "csv")
    assert code == 0
    records = list(csv.DictReader(io.StringIO(out)))
    assert records[0]["count"] == "3" and records[0]["text"] == "qrコードが読めない"
    assert records[0]["kinds"] == "clarification 2, fallback 1"
    formula = [r for r in records if "HYPERLINK" in r["text"]]
    assert formula[0]["text"].startswith("'=")


@pytest.mark.parametrize(
    "args, texts",
    [
        (["--society", "ono"], ["ＱＲコードが読めない "]),
        (["--kind", "out_of_scope"], ["健診の予約をしたい"]),
        (["--since", "1.5"], ["qrコードが読めない", "****"]),
        (["--limit", "1"], ["qrコードが読めない"]),
        (["--max-rows", "2"], ["qrコードが読めない", "****"]),
    ],
)
def test_filters(db_url, args, texts):
    code, out, _ = run(db_url, "--format", "json", *args)
    assert code == 0
    assert [g["text"] for g in json.loads(out)] == texts


def test_export_nlu_is_a_skeleton_rasa_reads_once_labelled(db_url, tmp_path):
    target = tmp_path / "review.yml"
    code, _, err = run(db_url, "--export-nlu", str(target))
    assert code == 0 and "wrote 3 examples" in err
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    text = target.read_text(encoding="utf-8")
    assert text.count("- intent: TODO") == 2
    assert "****" not in text and "/choose_topic" not in text  # nothing to learn from them
    labelled = text.replace("- intent: TODO  # the NLU guessed: faq", "- intent: qr_unreadable", 1)
    labelled = labelled.replace(
        "- intent: TODO  # the NLU guessed: out_of_scope", "- intent: checkup"
    )
    data = RasaYAMLReader().reads(labelled)
    examples = {(m.get("intent"), m.get("text")) for m in data.intent_examples}
    assert examples == {
        ("qr_unreadable", "qrコードが読めない"),
        ("qr_unreadable", '=HYPERLINK("http://example.com")'),
        ("checkup", "健診の予約をしたい"),
    }


def test_export_nlu_to_stdout_with_nothing_to_export(db_url):
    code, out, _ = run(db_url, "--export-nlu", "-", "--kind", "did_not_help")
    assert code == 0
    assert "nlu: []" in out
    RasaYAMLReader().reads(out)


def test_an_empty_list_says_so(db_url):
    code, out, _ = run(db_url, "--kind", "did_not_help")
    assert code == 0 and out == "No recorded messages match.\n"


def test_a_missing_database_is_a_clear_error_and_is_not_created(tmp_path):
    path = tmp_path / "var" / "review.db"
    code, out, err = run(f"sqlite:///{path}")
    assert code == 2 and out == ""
    assert f"no review database at {path}" in err and "event_broker" in err
    assert not path.exists()


def test_a_database_without_the_table_is_a_clear_error(tmp_path):
    path = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(path).close()
    code, _, err = run(f"sqlite:///{path}")
    assert code == 2 and "has no review table" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--limit", "0"],
        ["--limit", "x"],
        ["--since", "-1"],
        ["--since", "nan"],
        ["--kind", "nonsense"],
        ["--format", "xml"],
        ["--max-rows", "99999999"],
        ["--society", "x" * 65],
    ],
)
def test_bad_arguments_exit_2(db_url, args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--db-url", db_url, *args])
    assert exit_info.value.code == 2


def test_the_module_runs(db_url):
    result = subprocess.run(
        [sys.executable, "-m", "bot.review", "--format", "json"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "KOSMO_REVIEW_DB_URL": db_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["count"] == 3
