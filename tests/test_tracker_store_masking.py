"""What the SQL tracker store writes: sensitive values as ****; Rasa's action timeout bounded."""

from __future__ import annotations

import json
import sqlite3

import pytest
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.masking import MASK, sensitive_text
from bot.tracker_store import UrlSQLTrackerStore


@pytest.mark.parametrize(
    "text, sensitive",
    [
        ("平成2年1月1日", True),
        ("1990/1/1", True),
        ("１９９００１０１", True),
        ("コードは 123456 です", True),
        ("Hanako-Kose2024", True),
        ("ワンタイムパスワードが届きません", False),
        ("kose.hanako", False),
        ("UL-7F3K9Q の状況を教えて", False),
        ("hanako.kose@example.com", False),
        # what members type outside forms (issue 13)
        ("生年月日は 1978 02 14 です", True),
        ("誕生日は2月14日、1978年生まれです", True),
        ("私のパスワード ichiro2024 が通りません", True),
        ("コードは 123 456 でした", True),
        ("記号は31、番号は11223", True),
        ("電話は 090-1234-5678 です", True),
        ("1012345619800101", True),  # outside a user-ID question: masked
        ("初期パスワードを教えて", False),
        ("2024年から使えません", False),
    ],
)
def test_sensitive_text(text, sensitive):
    assert sensitive_text(text) is sensitive


def stored_rows(db) -> list[dict]:
    with sqlite3.connect(db) as conn:
        return [json.loads(r[0]) for r in conn.execute("SELECT data FROM events ORDER BY id")]


async def test_birth_date_code_and_password_are_masked_in_the_database(tmp_path):
    db = tmp_path / "tracker.db"
    domain = Domain.from_dict(
        {
            "slots": {
                name: {"type": "text", "mappings": [{"type": "custom"}]}
                for name in ("unlock_user_id", "unlock_birth_date")
            },
            "forms": {"unlock_form": {"required_slots": ["unlock_user_id", "unlock_birth_date"]}},
        }
    )
    store = UrlSQLTrackerStore(domain=domain, db_url=f"sqlite:///{db}")
    tracker = DialogueStateTracker.from_events(
        "masking-test",
        [
            UserUttered("ロックを解除したい", {"name": "account_locked", "confidence": 1.0}),
            ActionExecuted("unlock_form"),
            ActiveLoop("unlock_form"),
            SlotSet(REQUESTED_SLOT, "unlock_user_id"),
            UserUttered("kose.ichiro", {"name": "inform", "confidence": 1.0}),
            SlotSet("unlock_user_id", "kose.ichiro"),
            SlotSet(REQUESTED_SLOT, "unlock_birth_date"),
            UserUttered(
                "しょうわ五十三年", {"name": "inform", "confidence": 1.0}
            ),  # invalid, still masked
            SlotSet("unlock_birth_date", None),
            UserUttered("S53.2.14", {"name": "inform", "confidence": 1.0}),
            SlotSet("unlock_birth_date", "1978-02-14"),
            SlotSet(REQUESTED_SLOT, None),
            ActiveLoop(None),
            SlotSet(REQUESTED_SLOT, "unlock_user_id"),
            UserUttered("パスワードは Ichiro-Kose2024 です", {"name": "inform", "confidence": 1.0}),
            SlotSet(
                "unlock_user_id", "パスワードは Ichiro-Kose2024 です"
            ),  # from_text, before validation
            UserUttered("ありがとう", {"name": "thank", "confidence": 1.0}),
        ],
        slots=domain.slots,
    )
    await store.save(tracker)
    raw = db.read_bytes().decode("utf-8", "replace")
    rows = stored_rows(db)
    for secret in ("1978-02-14", "S53.2.14", "Ichiro-Kose2024", "五十三年"):
        assert secret not in raw
        assert not any(secret in json.dumps(r, ensure_ascii=False) for r in rows), secret
    texts = [r["text"] for r in rows if r["event"] == "user"]
    assert texts == ["ロックを解除したい", "kose.ichiro", MASK, MASK, MASK, "ありがとう"]
    values = [(r["name"], r["value"]) for r in rows if r["event"] == "slot"]
    assert ("unlock_birth_date", MASK) in values and ("unlock_user_id", "kose.ichiro") in values
    assert ("unlock_user_id", MASK) in values

    # a later save adds only the new events, masked the same way
    tracker.update(UserUttered("123456", {"name": "inform", "confidence": 1.0}))
    await store.save(tracker)
    assert [r["text"] for r in stored_rows(db) if r["event"] == "user"][-1] == MASK
    restored = await store.retrieve("masking-test")
    assert restored is not None and restored.get_slot("unlock_birth_date") == MASK


VC_USER_ID = "1012345619800101"  # ono's voluntary-continuation demo member (dev/portal/seed.py)


def _form_domain() -> Domain:
    return Domain.from_dict(
        {
            "slots": {
                name: {"type": "text", "mappings": [{"type": "custom"}]}
                for name in ("unlock_user_id", "unlock_birth_date", "otp_user_id", "totp_code")
            },
            "forms": {
                "unlock_form": {"required_slots": ["unlock_user_id", "unlock_birth_date"]},
                "otp_help_form": {"required_slots": ["otp_user_id", "totp_code"]},
            },
        }
    )


def _inform(text: str) -> UserUttered:
    return UserUttered(text, {"name": "inform", "confidence": 1.0})


@pytest.mark.parametrize(
    "form, slot", [("unlock_form", "unlock_user_id"), ("otp_help_form", "otp_user_id")]
)
async def test_a_voluntary_continuation_user_id_survives_the_next_turn(tmp_path, form, slot):
    """16 digits asked for as a user ID are the ID the portal needs next turn, not a code."""
    domain = _form_domain()
    store = UrlSQLTrackerStore(domain=domain, db_url=f"sqlite:///{tmp_path / 't.db'}")
    tracker = DialogueStateTracker.from_events(
        "vc",
        [
            _inform("ロックを解除したい"),
            ActionExecuted(form),
            ActiveLoop(form),
            SlotSet(REQUESTED_SLOT, slot),
            _inform(VC_USER_ID),
            SlotSet(slot, VC_USER_ID),
            SlotSet(REQUESTED_SLOT, "unlock_birth_date" if form == "unlock_form" else "totp_code"),
        ],
        slots=domain.slots,
    )
    await store.save(tracker)
    restored = await store.retrieve("vc")
    assert restored is not None and restored.get_slot(slot) == VC_USER_ID
    assert [e.text for e in restored.events if isinstance(e, UserUttered)][-1] == VC_USER_ID
    # with the cache off too: what the database holds, not only what the store kept
    fresh = UrlSQLTrackerStore(domain=domain, db_url=f"sqlite:///{tmp_path / 't.db'}", cache_size=0)
    again = await fresh.retrieve("vc")
    assert again is not None and again.get_slot(slot) == VC_USER_ID


@pytest.mark.parametrize(
    "typed, kept",
    [
        ("kose.ichiro", True),
        (VC_USER_ID, True),
        ("１０１２３４５６１９８００１０１", True),
        ("12345678", True),  # a chosen ID of digits
        ("123456", False),  # a code: no user ID is this short
        ("19780214", False),  # a birth date
        ("Ichiro-Kose2024", False),  # a password
        ("パスワードは ichiro2024", False),
        ("1978/2/14", False),
    ],
)
async def test_what_is_kept_when_the_bot_asked_for_a_user_id(tmp_path, typed, kept):
    domain = _form_domain()
    store = UrlSQLTrackerStore(domain=domain, db_url=f"sqlite:///{tmp_path / 't.db'}")
    tracker = DialogueStateTracker.from_events(
        "uid",
        [
            ActionExecuted("unlock_form"),
            ActiveLoop("unlock_form"),
            SlotSet(REQUESTED_SLOT, "unlock_user_id"),
            _inform(typed),
            SlotSet("unlock_user_id", typed),  # from_text: the raw message until validation
        ],
        slots=domain.slots,
    )
    await store.save(tracker)
    rows = stored_rows(tmp_path / "t.db")
    texts = [r["text"] for r in rows if r["event"] == "user"]
    values = [r["value"] for r in rows if r["event"] == "slot" and r["name"] == "unlock_user_id"]
    assert texts == ([typed] if kept else [MASK])
    assert values == ([typed] if kept else [MASK])


async def test_a_bare_user_id_outside_a_form_is_masked(tmp_path):
    store = UrlSQLTrackerStore(domain=_form_domain(), db_url=f"sqlite:///{tmp_path / 't.db'}")
    await store.save(DialogueStateTracker.from_events("bare", [_inform(VC_USER_ID)]))
    assert [r["text"] for r in stored_rows(tmp_path / "t.db") if r["event"] == "user"] == [MASK]


def test_building_the_store_patches_nothing_in_rasa(tmp_path, monkeypatch):
    """The patches are the server's (bot.serve), not the store's: a test's store leaves Rasa as it is."""
    import rasa.core.actions.action as rasa_action
    import rasa.core.processor
    from rasa.shared.core.events import Event

    monkeypatch.delenv("KOSMO_RASA_SPEEDUPS", raising=False)
    before = (rasa_action.DEFAULT_REQUEST_TIMEOUT, rasa.core.processor.DaskGraphRunner, vars(Event)["resolve_by_type"])
    UrlSQLTrackerStore(db_url=f"sqlite:///{tmp_path / 't.db'}")
    after = (rasa_action.DEFAULT_REQUEST_TIMEOUT, rasa.core.processor.DaskGraphRunner, vars(Event)["resolve_by_type"])
    assert after == before
