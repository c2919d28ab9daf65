"""Voluntary-continuation members: their digits-only ID is longer than a chosen ID may be."""

from __future__ import annotations

from tests.portal.conftest import Api, RunningPortal, member

NINKEI = member("1012345619800101")


async def test_the_long_id_works_where_an_existing_id_is_asked_for(api: Api, portal: RunningPortal) -> None:
    portal.clock.advance(7)
    code = portal.totp_code(NINKEI.totp_secret)
    diagnosed = await api.post("/api/v1/otp/diagnose", {"tenant": "ono", "user_id": "１０１２３４５６１９８００１０１", "code": code})
    assert diagnosed.status == 200 and diagnosed.body["result"] == "match"
    ticket = await api.post("/api/v1/unlock-tickets", {"tenant": "ono", "user_id": NINKEI.user_id, "birth_date": "1980-01-01"})
    assert ticket.status == 201
    login = await api.post("/member/login", {"tenant": "ono", "user_id": NINKEI.user_id, "password": NINKEI.password}, token=None)
    assert login.status == 200, login.body


async def test_a_society_without_such_ids_refuses_it(api: Api) -> None:
    reply = await api.post("/api/v1/unlock-tickets", {"tenant": "kose", "user_id": "1012345619800101", "birth_date": "1980-01-01"})
    assert reply.status == 422 and reply.body["field"] == "user_id"


async def test_only_the_society_lengths_are_accepted(api: Api) -> None:
    reply = await api.post("/api/v1/unlock-tickets", {"tenant": "ono", "user_id": "10123456198001011", "birth_date": "1980-01-01"})
    assert reply.status == 422 and reply.body["field"] == "user_id"
