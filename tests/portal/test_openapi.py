"""The committed OpenAPI document matches the app's routes and what the endpoints answer."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from bot.portal_client import member as member_ids
from dev.portal.app import OPENAPI_PATH, create_app, load_openapi
from tests.portal.conftest import (
    ADMIN_TOKEN,
    Api,
    RunningPortal,
    make_settings,
    member,
    member_headers,
    member_id,
    origin_id,
)

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def app_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes:
        path = "/" + re.sub(r"<(\w+)(?::[^>]+)?>", r"{\1}", route.path).lstrip("/")
        for method in route.methods:
            if method.lower() in HTTP_METHODS:
                routes.add((path, method.lower()))
    return routes


def doc_routes(doc: dict) -> set[tuple[str, str]]:
    return {(path, m) for path, item in doc["paths"].items() for m in item if m in HTTP_METHODS}


@pytest.mark.parametrize("dev", [True, False])
def test_document_paths_equal_app_routes(dev: bool, template_db) -> None:
    settings = make_settings(f"sqlite:///{template_db}", 2525, dev=dev)
    app = create_app(settings)
    app.router.finalize()
    assert doc_routes(load_openapi(dev)) == app_routes(app)
    app.ctx.portal.db.dispose()


def test_document_is_valid_json_with_operation_ids() -> None:
    doc = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert doc["openapi"].startswith("3.1")
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for path in ("/api/v1/otp/resend", "/api/v1/reminders/user-id", "/api/v1/unlock-tickets",
                 "/api/v1/unlock-tickets/{ticket_id}", "/api/v1/otp/diagnose", "/api/v1/openapi.json"):
        assert path in doc["paths"]


async def test_served_document_is_the_committed_one(api: Api) -> None:
    served = (await api.get("/api/v1/openapi.json", token=None)).body
    assert served == load_openapi(dev=True)


def _schema(doc: dict, path: str, method: str, status: int) -> dict:
    response = doc["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    return {**schema, "components": doc["components"]}


async def test_answers_match_their_schemas(api: Api, portal: RunningPortal) -> None:
    doc = load_openapi(dev=True)
    sakura = member("ono.sakura")
    cases = [
        ("/api/v1/otp/resend", "post", {"tenant": "kose", "user_id": "kose.hanako"}, 202),
        ("/api/v1/otp/resend", "post", {"tenant": "ono", "user_id": "ono.sakura"}, 409),
        ("/api/v1/otp/resend", "post", {"tenant": "kose", "user_id": "x"}, 422),
        ("/api/v1/reminders/user-id", "post", {"tenant": "kose", "email": "nobody@example.com"}, 202),
        ("/api/v1/unlock-tickets", "post", {"tenant": "kose", "user_id": "kose.ichiro", "birth_date": "1978-02-14"}, 201),
        ("/api/v1/otp/diagnose", "post", {"tenant": "ono", "user_id": "ono.sakura",
                                          "code": portal.totp_code(sakura.totp_secret, 30)}, 200),
        ("/api/v1/otp/diagnose", "post", {"tenant": "kose", "user_id": "kose.hanako", "code": "123456"}, 409),
    ]
    cases.append(("/api/v1/unlock-tickets", "post", cases[4][2], 200))  # the same request again
    ticket_id = None
    for path, method, body, status in cases:
        reply = await api.post(path, body, sender="member-1", origin="widget:" + "c" * 32)
        assert reply.status == status, (path, reply.body)
        jsonschema.validate(reply.body, _schema(doc, path, method, status))
        if status == 201:
            ticket_id = reply.body["ticket_id"]
    reply = await api.get(f"/api/v1/unlock-tickets/{ticket_id}", params={"tenant": "kose"}, sender="member-1",
                          origin="widget:" + "d" * 32)  # the member, from another address now
    assert reply.status == 200
    jsonschema.validate(reply.body, _schema(doc, "/api/v1/unlock-tickets/{ticket_id}", "get", 200))
    reply = await api.get(f"/api/v1/unlock-tickets/{ticket_id}", params={"tenant": "kose"}, sender="member-2")
    assert reply.status == 404
    jsonschema.validate(reply.body, _schema(doc, "/api/v1/unlock-tickets/{ticket_id}", "get", 404))
    reply = await api.post("/api/v1/otp/resend", cases[0][2], headers={"X-Kosmo-Member": member_id("m"),
                                                                      "X-Kosmo-Member-Signature": "0" * 64})
    assert (reply.status, reply.body["error"]) == (401, "member_signature_invalid")
    jsonschema.validate(reply.body, _schema(doc, "/api/v1/otp/resend", "post", 401))
    unsigned_origin = {**member_headers("m"), member_ids.ORIGIN_HEADER: origin_id("widget:" + "e" * 32)}
    reply = await api.post("/api/v1/otp/resend", cases[0][2], headers=unsigned_origin)
    assert (reply.status, reply.body["error"]) == (401, "member_signature_invalid")
    jsonschema.validate(reply.body, _schema(doc, "/api/v1/otp/resend", "post", 401))
    reply = await api.get("/admin/v1/unlock-tickets", token=ADMIN_TOKEN)
    jsonschema.validate(reply.body, _schema(doc, "/admin/v1/unlock-tickets", "get", 200))
    reply = await api.post("/member/login", {"tenant": "ono", "user_id": "ono.kenta", "password": member("ono.kenta").password}, token=None)
    jsonschema.validate(reply.body, _schema(doc, "/member/login", "post", 200))
    reply = await api.get("/dev/outbox", token=None)
    jsonschema.validate(reply.body, _schema(doc, "/dev/outbox", "get", 200))


def test_every_helpdesk_call_documents_the_member_headers() -> None:
    doc = load_openapi(dev=True)
    params = doc["components"]["parameters"]
    assert params["Member"]["name"] == member_ids.MEMBER_HEADER
    assert params["Member"]["schema"]["pattern"] == member_ids.MEMBER_ID_RE.pattern
    assert params["MemberSignature"]["name"] == member_ids.SIGNATURE_HEADER
    assert params["MemberSignature"]["schema"]["pattern"] == member_ids.SIGNATURE_RE.pattern
    assert params["Origin"]["name"] == member_ids.ORIGIN_HEADER
    assert params["Origin"]["schema"]["pattern"] == member_ids.MEMBER_ID_RE.pattern
    checked = 0
    for path, item in doc["paths"].items():
        for op in item.values():
            if {"serviceToken": []} in op.get("security", []):
                refs = [p.get("$ref") for p in op.get("parameters", [])]
                assert {"#/components/parameters/Member", "#/components/parameters/Origin",
                        "#/components/parameters/MemberSignature"} <= set(refs), path
                checked += 1
    assert checked == 5
