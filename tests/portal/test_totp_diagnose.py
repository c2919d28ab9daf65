"""TOTP diagnosis: where the code on the member's phone falls relative to the portal's clock."""

from __future__ import annotations

import pytest

from tests.portal.conftest import Api, RunningPortal, member

SAKURA = member("ono.sakura")


async def diagnose(api: Api, user_id: str, code: str):
    return await api.post("/api/v1/otp/diagnose", {"tenant": "ono", "user_id": user_id, "code": code})


@pytest.mark.parametrize(
    "phone_offset,result,step_offset",
    [
        (-90, "nearby", -3),
        (-30, "nearby", -1),
        (0, "match", 0),
        (30, "nearby", 1),
        (90, "nearby", 3),
    ],
)
async def test_clock_offsets(api: Api, portal: RunningPortal, phone_offset: int, result: str, step_offset: int) -> None:
    portal.clock.advance(7)  # somewhere inside a step, not on its edge
    reply = await diagnose(api, "ono.sakura", portal.totp_code(SAKURA.totp_secret, phone_offset))
    assert reply.status == 200
    assert reply.body == {
        "result": result,
        "step_offset": step_offset,
        "offset_seconds": phone_offset,
        "window_steps": 3,
        "step_seconds": 30,
    }


async def test_wrong_code_and_outside_the_window(api: Api, portal: RunningPortal) -> None:
    real = {portal.totp_code(SAKURA.totp_secret, k * 30) for k in range(-3, 4)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in real)
    for code in (wrong, portal.totp_code(SAKURA.totp_secret, 150)):
        reply = await diagnose(api, "ono.sakura", code)
        assert reply.body["result"] == "no_match"
        assert reply.body["step_offset"] is None and reply.body["offset_seconds"] is None


async def test_unknown_user_looks_exactly_like_a_wrong_code(api: Api, portal: RunningPortal) -> None:
    code = portal.totp_code(SAKURA.totp_secret)
    unknown = await diagnose(api, "nobody.12345", code)
    not_bound = await diagnose(api, "ono.kenta", code)  # authenticator not set up yet
    wrong = await diagnose(api, "ono.sakura", "000000" if code != "000000" else "111111")
    assert unknown.status == not_bound.status == wrong.status == 200
    assert unknown.body == not_bound.body == wrong.body


async def test_diagnosis_never_logs_in_nor_spends_the_code(api: Api, portal: RunningPortal) -> None:
    code = portal.totp_code(SAKURA.totp_secret)
    assert (await diagnose(api, "ono.sakura", code)).body["result"] == "match"
    assert (await diagnose(api, "ono.sakura", code)).body["result"] == "match"
    login = await api.post("/member/login", {"tenant": "ono", "user_id": "ono.sakura", "password": SAKURA.password}, token=None)
    done = await api.post("/member/otp", {"session": login.body["session"], "code": code}, token=None)
    assert done.body["next_step"] == "done"
