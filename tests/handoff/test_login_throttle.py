"""Failed console logins are throttled per client, so strangers cannot lock agents out.

Most tests go through the real console on loopback; each client connects from a
loopback address of its own (127.0.0.x), which is the address the console sees.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sqlite3
from pathlib import Path
from typing import Any, Callable

import pytest
from multidict import CIMultiDict

from bot.client_address import ClientAddresses, client_key
from bot.handoff.login_throttle import (
    REFUSED_CLIENT,
    REFUSED_GUARD,
    REFUSED_LOGIN,
    Attempt,
    LoginThrottle,
    Refusal,
)
from bot.handoff.store import HandoffStore
from bot.handoff.store_errors import InvalidValue
from tests.handoff.conftest import (
    PASSWORD,
    AgentClient,
    Agents,
    RunningConsole,
    TestClock,
)

WRONG = "wrong-password-123"
PAIR_TEXT = "このIDはこの接続元からしばらくログインできません"
CLIENT_TEXT = "この接続元からのログインの失敗が続いたため"
GUARD_TEXT = "いつもと違う接続元からはしばらくログインできません"
WRONG_TEXT = "ログインIDまたはパスワードが正しくありません"


async def statuses(client: AgentClient, login: str, password: str, times: int) -> list[int]:
    return [(await client.post_login(login, password)).status for _ in range(times)]


# -- a stranger cannot lock the real agent out -----------------------------------------


async def test_a_strangers_twenty_wrong_passwords_do_not_stop_the_real_agent(
    console: RunningConsole, client_factory: Callable[..., AgentClient]
) -> None:
    stranger = client_factory("127.0.0.9")
    assert await statuses(stranger, "sato", WRONG, 20) == [401] * 5 + [429] * 15
    # the stranger's client is refused, even with the right password
    resp = await stranger.post_login("sato", PASSWORD)
    assert resp.status == 429 and PAIR_TEXT in await resp.text()
    # Sato, from the office
    assert (await client_factory("127.0.0.2").post_login("sato", PASSWORD)).status == 303


async def test_refused_attempts_do_not_count_against_the_agent(
    console: RunningConsole, client_factory: Callable[..., AgentClient], db_path: Path
) -> None:
    # three strangers, 20 tries each: only the first 5 of each are counted, 15 < 20
    for n in (11, 12, 13):
        stranger = client_factory(f"127.0.0.{n}")
        assert await statuses(stranger, "sato", WRONG, 20) == [401] * 5 + [429] * 15
    with sqlite3.connect(db_path) as db:
        (failures,) = db.execute(
            "select failures from handoff_login_counters where scope = 'login' and subject = 'sato'"
        ).fetchone()
    assert failures == 15
    # so Sato is not held back even on a client never used before
    assert (await client_factory("127.0.0.3").post_login("sato", PASSWORD)).status == 303


async def test_refused_attempts_do_not_check_the_password(
    console: RunningConsole,
    client_factory: Callable[..., AgentClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[str] = []
    authenticate = console.store.authenticate

    def spy(login: str, password: str) -> Any:
        checked.append(login)
        return authenticate(login, password)

    monkeypatch.setattr(console.store, "authenticate", spy)
    stranger = client_factory("127.0.0.9")
    await statuses(stranger, "sato", WRONG, 8)
    assert checked == ["sato"] * 5
    # nor a password too long to be one (it counts as a failure, answered the same way)
    resp = await client_factory("127.0.0.10").post_login("sato", "x" * 1025)
    assert resp.status == 401 and WRONG_TEXT in await resp.text()
    assert checked == ["sato"] * 5


# -- the stranger's client is throttled ------------------------------------------------


async def test_a_client_that_fails_too_often_is_refused_for_every_login(
    console: RunningConsole, client_factory: Callable[..., AgentClient], clock: TestClock
) -> None:
    sprayer = client_factory("127.0.0.9")
    for login in ("sato", "suzuki", "tanaka", "nobody", "admin"):
        assert await statuses(sprayer, login, WRONG, 2) == [401, 401]
    # ten failures from this client: now even a login it never tried, with its password
    resp = await sprayer.post_login("tanaka", PASSWORD)
    assert resp.status == 429
    text = await resp.text()
    assert CLIENT_TEXT in text and "約15分後" in text
    assert resp.headers["Retry-After"] == "900"
    # other clients are not affected
    assert (await client_factory("127.0.0.2").post_login("tanaka", PASSWORD)).status == 303
    clock.advance(minutes=14, seconds=59)
    assert (await sprayer.post_login("tanaka", PASSWORD)).status == 429
    clock.advance(seconds=1)
    assert (await sprayer.post_login("tanaka", PASSWORD)).status == 303


async def test_the_per_login_block_still_stops_one_client_guessing(
    console: RunningConsole, client_factory: Callable[..., AgentClient], clock: TestClock
) -> None:
    guesser = client_factory("127.0.0.9")
    assert await statuses(guesser, "sato", WRONG, 5) == [401] * 5
    assert (await guesser.post_login("sato", PASSWORD)).status == 429
    colleague = client_factory("127.0.0.9")  # other logins from the same client: fine
    assert (await colleague.post_login("suzuki", PASSWORD)).status == 303
    clock.advance(minutes=10)
    assert (await guesser.post_login("sato", "another-guess-1")).status == 429
    clock.advance(minutes=5)
    assert (await guesser.post_login("sato", PASSWORD)).status == 303


async def test_requests_sent_at_once_get_no_more_guesses(
    console: RunningConsole, client_factory: Callable[..., AgentClient]
) -> None:
    clients = [client_factory("127.0.0.9") for _ in range(12)]
    tokens = [await c.login_form_token() for c in clients]
    answers = await asyncio.gather(
        *(c.post_login("sato", WRONG, csrf=t) for c, t in zip(clients, tokens, strict=True))
    )
    assert sorted(r.status for r in answers) == [401] * 5 + [429] * 7


async def test_the_right_password_takes_its_count_back(
    console: RunningConsole, client_factory: Callable[..., AgentClient]
) -> None:
    for _ in range(2):  # a forgetful morning: 4 wrong, then right, and again
        agent = client_factory("127.0.0.2")
        assert await statuses(agent, "sato", WRONG, 4) == [401] * 4
        assert (await agent.post_login("sato", PASSWORD)).status == 303
    # the client's counter holds the 8 failures, not the 2 successes: a colleague's
    # ninth failure and a tenth attempt (right) are still let through
    colleague = client_factory("127.0.0.2")
    assert await statuses(colleague, "suzuki", WRONG, 1) == [401]
    assert (await colleague.post_login("suzuki", PASSWORD)).status == 303
    # and now one more failure from this office reaches the client's limit of 10
    assert await statuses(client_factory("127.0.0.2"), "tanaka", WRONG, 2) == [401, 429]


# -- a guesser with many addresses -----------------------------------------------------


async def test_many_addresses_guard_the_login_but_not_from_the_agents_usual_client(
    console: RunningConsole, client_factory: Callable[..., AgentClient], clock: TestClock
) -> None:
    office = client_factory("127.0.0.2")
    assert (await office.post_login("sato", PASSWORD)).status == 303  # Sato's usual client
    clock.advance(days=3)
    for n in range(20, 25):  # five addresses, four guesses each: 20 failures for sato
        assert await statuses(client_factory(f"127.0.0.{n}"), "sato", WRONG, 4) == [401] * 4
    # a new address, even with the right password, is refused while sato is guarded
    newcomer = client_factory("127.0.0.30")
    resp = await newcomer.post_login("sato", PASSWORD)
    assert resp.status == 429 and GUARD_TEXT in await resp.text()
    assert (await client_factory("127.0.0.31").post_login("sato", WRONG)).status == 429
    # other logins are not guarded
    assert (await newcomer.post_login("suzuki", PASSWORD)).status == 303
    # Sato's usual client gets in
    assert (await client_factory("127.0.0.2").post_login("sato", PASSWORD)).status == 303
    clock.advance(minutes=15)
    assert (await client_factory("127.0.0.30").post_login("sato", PASSWORD)).status == 303


# -- what the answers tell ---------------------------------------------------------------


def _answer(body: str, login: str) -> str:
    body = re.sub(r'value="[A-Za-z0-9_-]{20,}"', 'value="TOKEN"', body)
    return body.replace(f'value="{login}"', 'value="LOGIN"')


async def test_unknown_and_real_logins_get_the_same_answers(
    console: RunningConsole, client_factory: Callable[..., AgentClient]
) -> None:
    seen: dict[str, list[tuple[int, str, str]]] = {}
    for n, login in ((40, "sato"), (41, "nobody")):
        client = client_factory(f"127.0.0.{n}")
        seen[login] = []
        for _ in range(7):
            resp = await client.post_login(login, WRONG)
            text = await resp.text()
            seen[login].append(
                (resp.status, resp.headers.get("Retry-After", ""), _answer(text, login))
            )
    assert seen["sato"] == seen["nobody"]
    assert [status for status, _, _ in seen["sato"]] == [401] * 5 + [429] * 2
    assert WRONG_TEXT in seen["sato"][0][2] and PAIR_TEXT in seen["sato"][-1][2]


# -- behind a reverse proxy --------------------------------------------------------------


async def test_behind_a_proxy_its_header_tells_clients_apart(
    make_console: Callable[..., RunningConsole], agents: Agents
) -> None:
    running = make_console(client_addresses=ClientAddresses(header="x-forwarded-for"))
    proxy = AgentClient(running)  # every request comes from the proxy, 127.0.0.1

    async def post(login: str, password: str, forwarded: str) -> int:
        token = await proxy.login_form_token()
        resp = await proxy.http.post(
            running.at("/login"),
            data={"login": login, "password": password, "csrf": token},
            headers={"X-Forwarded-For": forwarded},
            allow_redirects=False,
        )
        await resp.read()
        return resp.status

    try:
        stranger = "203.0.113.9"
        assert [await post("sato", WRONG, stranger) for _ in range(6)] == [401] * 5 + [429]
        # what the client writes into the header itself does not count: the proxy's entry does
        assert await post("sato", WRONG, f"198.51.100.1, {stranger}") == 429
        assert await post("sato", PASSWORD, "203.0.113.10") == 303
    finally:
        await proxy.close()


async def _post_through_proxy(
    proxy: AgentClient, running: RunningConsole, login: str, password: str,
    forwarded: list[str],
) -> int:
    """A login POST from the proxy (127.0.0.1) with one X-Forwarded-For line per entry of
    ``forwarded``: a client may send a line of its own, and some proxies (HAProxy's
    ``option forwardfor``, some load balancers) add theirs after it instead of appending."""
    token = await proxy.login_form_token()
    resp = await proxy.http.post(
        running.at("/login"),
        data={"login": login, "password": password, "csrf": token},
        headers=CIMultiDict([("X-Forwarded-For", line) for line in forwarded]),
        allow_redirects=False,
    )
    await resp.read()
    return resp.status


async def test_an_overlong_login_at_the_console_names_no_agent(
    client_factory: Callable[..., AgentClient], store: HandoffStore
) -> None:
    """The console hands the store and the throttle the same login: one longer than any
    agent's is not cut down to an agent's login, so it neither logs in as that agent nor
    counts against that agent's login."""
    longest = "a" * 64
    store.create_agent("kose", longest, PASSWORD, "長い")
    stranger = client_factory("127.0.0.31")
    assert await statuses(stranger, longest + "x", PASSWORD, 6) == [401] * 5 + [429]
    assert (await stranger.post_login(f" {longest.upper()} ", PASSWORD)).status == 303


async def test_a_forwarded_for_line_the_client_sent_first_does_not_choose_its_address(
    make_console: Callable[..., RunningConsole], agents: Agents
) -> None:
    """The client's own line comes first, the proxy's after it: every made-up first
    line still counts against the address the proxy wrote."""
    running = make_console(client_addresses=ClientAddresses(header="x-forwarded-for"))
    proxy = AgentClient(running)
    try:
        stranger = "203.0.113.9"
        answers = [
            await _post_through_proxy(proxy, running, "sato", WRONG, [f"6.6.6.{n}", stranger])
            for n in range(6)
        ]
        assert answers == [401] * 5 + [429]
        assert await _post_through_proxy(proxy, running, "sato", PASSWORD, ["203.0.113.10"]) == 303
    finally:
        await proxy.close()


async def test_behind_two_proxies_the_client_is_the_entry_before_the_inner_proxy(
    make_console: Callable[..., RunningConsole], agents: Agents
) -> None:
    """An outer proxy appends the client, the inner one (10.0.0.2, trusted) appends the
    outer proxy: the inner proxy's entry is skipped, so one stranger's failures do not
    refuse the agent coming through the same two proxies."""
    addresses = ClientAddresses.from_env(
        {"KOSMO_CLIENT_IP_HEADER": "X-Forwarded-For", "KOSMO_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"}
    )
    running = make_console(client_addresses=addresses)
    proxy = AgentClient(running)
    try:
        through = "10.0.0.2"
        answers = [
            await _post_through_proxy(proxy, running, "sato", WRONG, [f"6.6.6.{n}, 203.0.113.9, {through}"])
            for n in range(6)
        ]
        assert answers == [401] * 5 + [429]
        assert await _post_through_proxy(
            proxy, running, "sato", PASSWORD, [f"203.0.113.10, {through}"]
        ) == 303
    finally:
        await proxy.close()


async def test_a_login_through_an_unconfigured_proxy_is_warned_about_once(
    make_console: Callable[..., RunningConsole], agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    """Without KOSMO_CLIENT_IP_HEADER every login behind a proxy is the proxy's, and 10
    wrong passwords from anyone refuse everyone: a login from a trusted proxy's address
    that carries a forwarding header says so in the log, once; one without does not."""
    quiet = make_console()
    direct = AgentClient(quiet)
    running = make_console()
    proxy = AgentClient(running)

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "bot.handoff.console"
                and "KOSMO_CLIENT_IP_HEADER" in r.getMessage()]

    try:
        with caplog.at_level("WARNING", logger="bot.handoff.console"):
            assert (await direct.post_login("sato", WRONG)).status == 401
            assert warnings() == []
            for forwarded in ("203.0.113.9", "203.0.113.10"):
                assert await _post_through_proxy(proxy, running, "sato", WRONG, [forwarded]) == 401
        assert len(warnings()) == 1
        assert "127.0.0.1" in warnings()[0] and "x-forwarded-for" in warnings()[0]
    finally:
        await direct.close()
        await proxy.close()


async def test_without_a_trusted_proxy_the_header_is_ignored(
    make_console: Callable[..., RunningConsole], agents: Agents
) -> None:
    for source, addresses in (
        ("127.0.0.9", ClientAddresses()),
        ("127.0.0.10", ClientAddresses("x-forwarded-for", ())),  # no proxy is trusted
    ):
        running = make_console(client_addresses=addresses)
        client = AgentClient(running, source)
        try:
            answers = []
            for n in range(6):  # a new made-up address at every try
                token = await client.login_form_token()
                resp = await client.http.post(
                    running.at("/login"),
                    data={"login": "suzuki", "password": WRONG, "csrf": token},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                    allow_redirects=False,
                )
                await resp.read()
                answers.append(resp.status)
            assert answers == [401] * 5 + [429]
        finally:
            await client.close()


@pytest.mark.parametrize(
    "address, key",
    [
        ("192.0.2.7", "192.0.2.7"),
        (" 192.0.2.7 ", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("[2001:db8::1]", "2001:db8::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("not an address", "unknown"),
        ("", "unknown"),
    ],
)
def test_client_keys(address: str, key: str) -> None:
    assert client_key(address) == key


def test_client_address_settings() -> None:
    addresses = ClientAddresses.from_env(
        {"KOSMO_CLIENT_IP_HEADER": "X-Real-IP", "KOSMO_TRUSTED_PROXIES": "10.0.0.0/8"}
    )
    assert addresses.client_of("10.1.2.3", {"x-real-ip": "192.0.2.7"}) == "192.0.2.7"
    assert addresses.client_of("192.0.2.99", {"x-real-ip": "192.0.2.7"}) == "192.0.2.99"
    assert addresses.client_of("10.1.2.3", {"x-real-ip": "garbage"}) == "10.1.2.3"
    assert ClientAddresses.from_env({}).client_of("127.0.0.1", {"x-forwarded-for": "1.2.3.4"}) == (
        "127.0.0.1"
    )
    with pytest.raises(ValueError, match="KOSMO_TRUSTED_PROXIES"):
        ClientAddresses.from_env({"KOSMO_TRUSTED_PROXIES": "proxy.example"})
    with pytest.raises(ValueError, match="KOSMO_CLIENT_IP_HEADER"):
        ClientAddresses.from_env({"KOSMO_CLIENT_IP_HEADER": "X Forwarded: For"})


@pytest.mark.parametrize(
    "peer, forwarded, client",
    [
        # the last entry of the last line, whatever lines came before it
        ("127.0.0.1", ["6.6.6.6", "203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["6.6.6.6", "198.51.100.1, 203.0.113.9"], "203.0.113.9"),
        # trusted proxies in the header are skipped: the inner proxy's entry is not the client
        ("127.0.0.1", ["203.0.113.9, 10.0.0.2"], "203.0.113.9"),
        ("127.0.0.1", ["203.0.113.9", "10.0.0.2"], "203.0.113.9"),
        ("127.0.0.1", ["203.0.113.9, ::ffff:10.0.0.2"], "203.0.113.9"),
        # a peer the server sees as IPv4-mapped (listening on ::) is the proxy it maps to
        ("::ffff:127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("::ffff:192.0.2.99", ["203.0.113.9"], "192.0.2.99"),
        ("127.0.0.1", ["::ffff:203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["2001:db8:1:2::7"], "2001:db8:1:2::/64"),
        # every entry a proxy: the leftmost; an unreadable one: the nearest proxy before it
        ("127.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
        ("127.0.0.1", ["6.6.6.6, unknown, 10.0.0.2"], "10.0.0.2"),
        ("127.0.0.1", ["garbage"], "127.0.0.1"),
        ("127.0.0.1", [], "127.0.0.1"),
        # not from a trusted proxy: the peer, whatever the header says
        ("192.0.2.99", ["203.0.113.9"], "192.0.2.99"),
    ],
)
def test_the_client_is_read_from_the_right_of_all_header_lines(
    peer: str, forwarded: list[str], client: str
) -> None:
    addresses = ClientAddresses.from_env(
        {"KOSMO_CLIENT_IP_HEADER": "X-Forwarded-For", "KOSMO_TRUSTED_PROXIES": "127.0.0.1/8,10.0.0.0/8"}
    )
    headers = CIMultiDict([("X-Forwarded-For", line) for line in forwarded])
    assert addresses.client_of(peer, headers) == client


def test_an_ipv4_mapped_peer_is_trusted_as_its_ipv4_address() -> None:
    addresses = ClientAddresses.from_env({"KOSMO_TRUSTED_PROXIES": "127.0.0.1/8,10.0.0.0/8"})
    assert addresses.trusted("::ffff:10.1.2.3") and addresses.trusted("::ffff:127.0.0.1")
    assert not addresses.trusted("::ffff:192.0.2.1")


def test_only_the_end_of_a_long_header_is_read() -> None:
    """Bounded work: the last 1000 characters, without the entry the cut went through
    (its tail ``::11:2:3:4`` would read as an address)."""
    addresses = ClientAddresses(header="x-forwarded-for")
    value = "2001:db8::11:2:3:4" + ",127.0.0.1" * 99
    assert addresses.client_of("127.0.0.1", {"x-forwarded-for": value}) == "127.0.0.1"
    many = ",".join(f"198.51.100.{n % 250}" for n in range(100_000)) + ",203.0.113.9"
    assert addresses.client_of("127.0.0.1", {"x-forwarded-for": many}) == "203.0.113.9"


# -- the counters in the database ----------------------------------------------------------


@pytest.fixture
def throttle(store: HandoffStore, clock: TestClock) -> LoginThrottle:
    return LoginThrottle(store.engine, clock.now)


def test_counters_are_shared_through_the_database(
    store: HandoffStore, clock: TestClock, db_path: Path
) -> None:
    one = LoginThrottle(store.engine, clock.now)
    other_store = HandoffStore(f"sqlite:///{db_path}", clock=clock.now)
    other = LoginThrottle(other_store.engine, clock.now)  # another process's engine
    try:
        for throttle in (one, other, one, other, one):
            assert isinstance(throttle.begin("sato", "192.0.2.7"), Attempt)
        refusal = other.begin("SATO ", "192.0.2.7")
        assert isinstance(refusal, Refusal) and refusal.reason == REFUSED_LOGIN
    finally:
        other_store.dispose()


def test_failures_are_counted_on_the_login_the_store_checks(
    throttle: LoginThrottle, store: HandoffStore
) -> None:
    """One normalisation (``bot.handoff.store_agents.normalise_login``) for the store and the
    throttle: case and spaces do not make a new login, and a login longer than any
    agent's (64 characters), which names no agent, never counts against one that does."""
    import bot.handoff.login_throttle as login_throttle
    import bot.handoff.store_agents as handoff_store

    assert login_throttle.normalise_login is handoff_store.normalise_login
    longest = "a" * 64
    store.create_agent("kose", longest, PASSWORD, "長い")
    with pytest.raises(InvalidValue):
        store.create_agent("kose", "b" * 65, PASSWORD, "長すぎる")
    for variant in (longest.upper(), f"  {longest}  ", longest + "x", longest + "xyz" * 100):
        assert store.authenticate(variant, PASSWORD) == (
            None if len(variant.strip()) > 64 else store.agent_by_login(longest)
        )
    for n in range(5):  # overlong variants from one client: their own counter, not the agent's
        assert isinstance(throttle.begin(longest + "x" * (n + 1), "192.0.2.7"), Attempt)
    assert isinstance(throttle.begin(longest, "192.0.2.7"), Attempt)
    for _ in range(3):
        throttle.begin(f" {longest.upper()}", "192.0.2.8")
    assert throttle.begin(longest + "y" * 200, "192.0.2.9") is not None
    with throttle.engine.connect() as conn:
        subjects = dict(conn.exec_driver_sql(
            "select subject, failures from handoff_login_counters where scope = 'login'"
        ).all())
    assert subjects == {longest: 1 + 3, longest + "x": 5, longest + "y": 1}


def test_a_row_inserted_meanwhile_is_counted_on(
    throttle: LoginThrottle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What PostgreSQL does when two first failures of one client come at once."""
    assert isinstance(throttle.begin("sato", "192.0.2.7"), Attempt)
    row = LoginThrottle._row
    missed: list[str] = []

    def miss_once(conn: Any, scope: str, subject: str) -> Any:
        if scope == "client" and not missed:
            missed.append(subject)
            return None  # as if the other transaction had not committed its insert yet
        return row(conn, scope, subject)

    monkeypatch.setattr(LoginThrottle, "_row", staticmethod(miss_once))
    assert isinstance(throttle.begin("suzuki", "192.0.2.7"), Attempt)
    assert missed == ["192.0.2.7"]
    with throttle.engine.connect() as conn:
        (failures,) = conn.exec_driver_sql(
            "select failures from handoff_login_counters where scope = 'client'"
        ).one()
    assert failures == 2


def test_old_rows_are_pruned(throttle: LoginThrottle, clock: TestClock) -> None:
    for n in range(30):
        throttle.begin(f"login{n}", f"192.0.2.{n}")
    assert throttle.rows() == 90
    clock.advance(minutes=15)
    throttle.begin("sato", "192.0.2.200")
    assert throttle.rows() == 3
    ok = throttle.begin("sato", "192.0.2.201")
    assert isinstance(ok, Attempt)
    throttle.succeeded(ok)
    clock.advance(days=29)
    throttle.begin("x", "192.0.2.202")
    assert throttle.rows() == 1 + 3  # only the pair sato/201 is kept: the client is known
    clock.advance(days=1)
    throttle.begin("y", "192.0.2.203")
    assert throttle.rows() == 3


def test_windows_and_blocks(throttle: LoginThrottle, clock: TestClock) -> None:
    for _ in range(4):
        assert isinstance(throttle.begin("sato", "192.0.2.7"), Attempt)
    clock.advance(minutes=15)  # the window has passed: counting starts again
    for _ in range(4):
        assert isinstance(throttle.begin("sato", "192.0.2.7"), Attempt)
    last = throttle.begin("sato", "192.0.2.7")
    assert isinstance(last, Attempt) and set(last.started) == {"pair"}
    refusal = throttle.begin("sato", "192.0.2.7")
    assert isinstance(refusal, Refusal) and refusal.reason == REFUSED_LOGIN
    assert refusal.seconds_left(clock.now()) == 900
    # the fifth guess was right after all: its count and the block it began are taken back
    throttle.succeeded(last)
    assert isinstance(throttle.begin("sato", "192.0.2.7"), Attempt)


def test_a_guard_is_not_lifted_by_the_agents_own_success(
    throttle: LoginThrottle, clock: TestClock
) -> None:
    known = throttle.begin("sato", "192.0.2.1")
    assert isinstance(known, Attempt)
    throttle.succeeded(known)
    throttle.begin("sato", "192.0.2.10")  # the window starts
    clock.advance(minutes=10)
    for n in range(10, 14):
        for _ in range(5 if n > 10 else 4):
            throttle.begin("sato", f"192.0.2.{n}")
    guard = throttle.begin("sato", "192.0.2.50")  # guarded for 15 minutes from now
    assert isinstance(guard, Refusal) and guard.reason == REFUSED_GUARD
    for minutes in (0, 6):  # 6: the counting window has passed, the guard has not
        clock.advance(minutes=minutes)
        again = throttle.begin("sato", "192.0.2.1")
        assert isinstance(again, Attempt)
        throttle.succeeded(again)
        still = throttle.begin("sato", "192.0.2.50")
        assert isinstance(still, Refusal) and still.reason == REFUSED_GUARD
    clock.advance(minutes=9)
    assert isinstance(throttle.begin("sato", "192.0.2.50"), Attempt)


def test_refusal_texts_say_why_and_how_long(clock: TestClock) -> None:
    now = clock.now()
    for reason, text in (
        (REFUSED_CLIENT, CLIENT_TEXT),
        (REFUSED_LOGIN, PAIR_TEXT),
        (REFUSED_GUARD, GUARD_TEXT),
    ):
        message = Refusal(reason, now + dt.timedelta(minutes=4, seconds=30)).message(now)
        assert text in message and "約5分後" in message
