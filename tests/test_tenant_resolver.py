"""The society travels from channel metadata into the `tenant` entity."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.tenant_resolver import TenantResolver
from tests.conftest import FICTIONAL_KEY


def tenant_entities(resolver: TenantResolver, metadata) -> list[str]:
    message = Message(data={"text": "こんにちは", "metadata": metadata})
    resolver.process([message])
    return [e["value"] for e in message.get("entities", []) if e["entity"] == "tenant"]


@pytest.mark.parametrize(
    "metadata, expected",
    [
        ({"tenant": "ono"}, ["ono"]),
        ({"tenant": "KOSE"}, ["kose"]),
        ({"tenant": "unknown-society"}, ["kose"]),  # unknown -> the default
        ({"tenant": 42}, ["kose"]),                   # not a string -> the default
        ({"tenant": ""}, []),                         # names none -> keep what the conversation has
        ({}, []),
        (None, []),
        ("not a dict", []),
    ],
)
def test_metadata_to_entity(registry, metadata, expected):
    assert tenant_entities(TenantResolver({}, registry=registry), metadata) == expected


def test_a_new_society_needs_no_code(registry_with_fictional):
    resolver = TenantResolver({}, registry=registry_with_fictional)
    assert tenant_entities(resolver, {"tenant": FICTIONAL_KEY}) == [FICTIONAL_KEY]


def test_reads_the_tenants_file_named_in_config(tenants_file_with_fictional):
    resolver = TenantResolver({"tenants_file": str(tenants_file_with_fictional)})
    assert tenant_entities(resolver, {"tenant": FICTIONAL_KEY}) == [FICTIONAL_KEY]
