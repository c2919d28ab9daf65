"""The society travels from channel metadata into the `society` entity."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.society_resolver import SocietyResolver
from tests.conftest import FICTIONAL_KEY


def society_entities(resolver: SocietyResolver, metadata) -> list[str]:
    message = Message(data={"text": "こんにちは", "metadata": metadata})
    resolver.process([message])
    return [e["value"] for e in message.get("entities", []) if e["entity"] == "society"]


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
    assert society_entities(SocietyResolver({}, registry=registry), metadata) == expected


def test_a_new_society_needs_no_code(registry_with_fictional):
    resolver = SocietyResolver({}, registry=registry_with_fictional)
    assert society_entities(resolver, {"tenant": FICTIONAL_KEY}) == [FICTIONAL_KEY]


def test_reads_the_societies_file_named_in_config(societies_file_with_fictional):
    resolver = SocietyResolver({"societies_file": str(societies_file_with_fictional)})
    assert society_entities(resolver, {"tenant": FICTIONAL_KEY}) == [FICTIONAL_KEY]
