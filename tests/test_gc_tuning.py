"""The loaded server's objects are frozen for the garbage collector once it has started."""

from __future__ import annotations

import gc

import pytest
from sanic import Blueprint

from bot.channels.rest import SocietyRestInput
from bot.gc_tuning import freeze_after_start, freeze_long_lived_objects


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def after_start_listeners(bp: Blueprint) -> list:
    return [f.listener for f in bp._future_listeners if f.event == "after_server_start"]


async def test_objects_alive_at_start_are_frozen_and_new_ones_are_not(unfrozen):
    long_lived = [{"model": i} for i in range(1000)]
    frozen = freeze_long_lived_objects()
    assert frozen >= len(long_lived)
    assert gc.get_freeze_count() == frozen
    # a full collection no longer walks them: they are in no generation
    for generation in range(3):
        assert all(o is not long_lived[0] for o in gc.get_objects(generation))


async def test_the_listener_freezes_after_the_server_started(unfrozen):
    bp = freeze_after_start(Blueprint("some_channel"))
    [listener] = after_start_listeners(bp)
    await listener(None, None)
    assert gc.get_freeze_count() > 0


def test_the_rest_channel_freezes_after_start():
    async def handler(_message):
        return None

    bp = SocietyRestInput().blueprint(handler)
    names = [listener.__name__ for listener in after_start_listeners(bp)]
    assert "freeze" in names
