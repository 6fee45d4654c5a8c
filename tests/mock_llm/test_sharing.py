"""One mock, a room of attendees: does each API key see only its own ledger and faults?

Two keys side by side with the official SDK, in process and against a real server, and
concurrently; the operator's server-wide view sums them. Expected dollars come from the
tokens each reply reports and the handout's price table, typed out here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
import openai
import pytest
import uvicorn
from openai.types.chat import ChatCompletionMessageParam

from mock_llm import InProcessMock, Settings
from mock_llm.inprocess import SyncASGITransport
from mock_llm.server import BackgroundServer, uvicorn_config

from .mock_process import MockProcess

# The handout's prices, $ per 1K tokens (input, output), independent of the catalogue.
HANDOUT_PRICES = {
    "gpt-4": (0.03, 0.06),
    "gpt-3.5-turbo": (0.001, 0.002),
    "text-embedding-3-small": (0.00002, 0.0),
}
ALICE = "alice-key"
BOB = "sk-proj-bob-0123456789abcdefghijklmnopqrstuvwxyz-BOB9"  # long: shown masked
BOB_LABEL = "sk-proj-…BOB9"
QUESTIONS = ["What are your support hours?", "How do I reset my password?", "Tell me a joke"]


def ask(question: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": question}]


@dataclass
class Spent:
    """What one attendee's replies say they used, priced from the handout."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    models: set[str] = field(default_factory=set)

    def add(self, model: str, prompt: int, completion: int) -> None:
        price_in, price_out = HANDOUT_PRICES[model]
        self.calls += 1
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.cost += prompt / 1000 * price_in + completion / 1000 * price_out
        self.models.add(model)

    def __add__(self, other: Spent) -> Spent:
        return Spent(
            self.calls + other.calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost + other.cost,
            self.models | other.models,
        )


def chat(client: openai.OpenAI, model: str, question: str, spent: Spent) -> None:
    reply = client.chat.completions.create(model=model, messages=ask(question))
    assert reply.usage is not None
    spent.add(model, reply.usage.prompt_tokens, reply.usage.completion_tokens)


def embed(client: openai.OpenAI, texts: list[str], spent: Spent) -> None:
    reply = client.embeddings.create(model="text-embedding-3-small", input=texts)
    spent.add("text-embedding-3-small", reply.usage.prompt_tokens, 0)


def assert_ledger(ledger: dict[str, object], spent: Spent, rejected: int = 0) -> None:
    total = ledger["total"]
    assert isinstance(total, dict) and isinstance(ledger["models"], dict)
    assert total["calls"] == spent.calls
    assert (total["prompt_tokens"], total["completion_tokens"]) == (spent.prompt_tokens, spent.completion_tokens)
    assert total["cost_usd"] == pytest.approx(spent.cost, rel=1e-9, abs=1e-12)
    assert set(ledger["models"]) == spent.models
    assert ledger["rejected_requests"] == rejected


def alice_and_bob(client_for: dict[str, openai.OpenAI]) -> tuple[Spent, Spent]:
    """Alice asks gpt-4 three questions; Bob asks gpt-3.5-turbo two and embeds once, interleaved."""
    alice, bob = Spent(), Spent()
    chat(client_for[ALICE], "gpt-4", QUESTIONS[0], alice)
    chat(client_for[BOB], "gpt-3.5-turbo", QUESTIONS[1], bob)
    chat(client_for[ALICE], "gpt-4", QUESTIONS[1], alice)
    embed(client_for[BOB], ["one", "two three"], bob)
    chat(client_for[ALICE], "gpt-4", QUESTIONS[2], alice)
    chat(client_for[BOB], "gpt-3.5-turbo", QUESTIONS[2], bob)
    return alice, bob


def without_scope(view: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in view.items() if k not in {"scope", "key", "tracked"}}


# --- in process ------------------------------------------------------------------------


def test_two_keys_in_process() -> None:
    mock = InProcessMock(Settings(latency=0.0))
    clients = {ALICE: mock.client(api_key=ALICE), BOB: mock.client(api_key=BOB)}
    alice, bob = alice_and_bob(clients)

    assert_ledger(mock.ledger(key=ALICE), alice)
    assert_ledger(mock.ledger(key=BOB), bob)
    everyone = mock.ledger()
    assert_ledger(everyone, alice + bob)
    assert everyone["keys"] == {
        ALICE: without_scope(mock.ledger(key=ALICE)),
        BOB_LABEL: without_scope(mock.ledger(key=BOB)),
    }
    assert BOB not in str(everyone), "keys are shown masked, never whole"

    # A fault set by Alice's key never reaches Bob.
    mock.set_faults({"rate_limit": 1.0}, key=ALICE)
    for _ in range(3):
        with pytest.raises(openai.RateLimitError):
            clients[ALICE].chat.completions.create(model="gpt-4", messages=ask("hi"))
        chat(clients[BOB], "gpt-3.5-turbo", "hi", bob)
    assert_ledger(mock.ledger(key=ALICE), alice, rejected=3)
    assert_ledger(mock.ledger(key=BOB), bob)
    assert_ledger(mock.ledger(), alice + bob, rejected=3)
    assert mock.faults(key=ALICE)["injected"] == {"rate_limit": 3}
    assert mock.faults(key=BOB)["injected"] == {}
    assert mock.faults()["injected"] == {"rate_limit": 3}, "the server-wide count includes every key's"

    # Alice resets hers: Bob's and the server-wide totals stand.
    mock.reset_ledger(key=ALICE)
    assert_ledger(mock.ledger(key=ALICE), Spent())
    assert_ledger(mock.ledger(key=BOB), bob)
    assert_ledger(mock.ledger(), alice + bob, rejected=3)
    # The operator's reset is everyone's.
    mock.reset_ledger()
    for key in (ALICE, BOB, None):
        assert_ledger(mock.ledger(key=key), Spent())


def outcomes(client: openai.OpenAI, n: int) -> list[str]:
    out = []
    for _ in range(n):
        try:
            client.chat.completions.create(model="gpt-4", messages=ask("hi"))
            out.append("ok")
        except openai.InternalServerError:
            out.append("500")
    return out


def test_a_keys_faults_are_its_own_seeded_sequence() -> None:
    """Alice's sequence replays exactly, whether or not Bob (with faults of the server's own) calls in between."""
    mock = InProcessMock(Settings(latency=0.0, faults={"server_error": 0.3}))
    alice, bob = mock.client(api_key=ALICE), mock.client(api_key=BOB)
    mock.set_faults({"server_error": 0.5}, seed=7, key=ALICE)
    alone = outcomes(alice, 30)
    mock.set_faults(seed=7, key=ALICE)  # restarts Alice's sequence with her rates
    interleaved: list[str] = []
    bobs: list[str] = []
    for _ in range(30):
        interleaved += outcomes(alice, 1)
        bobs += outcomes(bob, 1)
    assert interleaved == alone
    assert 5 < alone.count("500") < 25
    assert 0 < bobs.count("500") < 30, "Bob draws from the server-wide rates"
    mock.set_faults({"server_error": 0.5}, seed=8, key=ALICE)
    assert outcomes(alice, 30) != alone, "another seed, another sequence"


def embed_as(http: httpx2.Client, key: str) -> httpx2.Response:
    body = {"model": "text-embedding-3-small", "input": "x"}
    return http.post("/v1/embeddings", json=body, headers={"authorization": f"Bearer {key}"})


def test_cycling_keys_cannot_wipe_anyone() -> None:
    """The attack: with room for five keys, six new keys used to forget Alice's faults and zero Bob's ledger."""
    mock = InProcessMock(Settings(latency=0.0, max_keys=5))
    clients = {ALICE: mock.client(api_key=ALICE), BOB: mock.client(api_key=BOB)}
    bob = Spent()
    mock.set_faults({"rate_limit": 1.0}, key=ALICE)
    chat(clients[BOB], "gpt-3.5-turbo", "hi", bob)
    with remote(mock, host="127.0.0.1") as http:
        for i in range(6):
            assert embed_as(http, f"cycling-{i}").status_code == 200, "a new key is still served"
        # Alice's own faults and Bob's ledger stand.
        with pytest.raises(openai.RateLimitError):
            clients[ALICE].chat.completions.create(model="gpt-4", messages=ask("hi"))
        assert mock.faults(key=ALICE)["settings"] == "own"
        chat(clients[BOB], "gpt-3.5-turbo", "again", bob)
        assert_ledger(mock.ledger(key=BOB), bob)
        assert_ledger(mock.ledger(key=ALICE), Spent(), rejected=1)

        everyone = mock.ledger()
        assert set(everyone["keys"]) == {ALICE, BOB_LABEL, "cycling-0", "cycling-1", "cycling-2"}
        assert everyone["total"]["calls"] == bob.calls + 6, "every call is billed server-wide"
        assert (everyone["untracked_calls"], everyone["keys_forgotten"], everyone["keys_full"]) == (3, 0, True)
        # A key left without an account is told so, in its own view.
        with remote(mock, "cycling-5") as late:
            mine = late.get("/_mock/ledger").json()
            assert (mine["tracked"], mine["total"]["calls"]) == (False, 0)
            assert "max-keys" in mine["note"]
            assert late.get("/_mock/faults").json()["tracked"] is False
            # Settings of its own would have nowhere to live: a 429 that says why, not a silent no-op.
            refused = late.put("/_mock/faults", json={"rates": {"server_error": 1.0}})
            assert refused.status_code == 429
            error = refused.json()["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["code"] == "too_many_keys"
            assert "max-keys" in error["message"]
        with remote(mock, "cycling-0") as tracked:
            assert tracked.get("/_mock/ledger").json()["tracked"] is True
            assert "note" not in tracked.get("/_mock/ledger").json()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_only_empty_idle_accounts_make_room() -> None:
    """An account is forgotten only when it holds nothing and was not seen for key_idle_seconds."""
    mock = InProcessMock(Settings(latency=0.0, max_keys=4, key_idle_seconds=600))
    clock = mock.state.accounts.clock = Clock()
    with remote(mock, host="127.0.0.1") as http:
        for key in ("spender", "resetter", "faulted", "own-settings"):
            assert embed_as(http, key).status_code == 200
        mock.reset_ledger(key="resetter")  # holds nothing now
        mock.set_faults(script=["server_error"], key="faulted")
        assert embed_as(http, "faulted").status_code == 500  # received a fault: has something to show
        mock.reset_ledger(key="faulted")
        mock.set_faults({}, key="own-settings")
        mock.reset_ledger(key="own-settings")

        # The empty account was seen a moment ago: no room yet.
        assert embed_as(http, "newcomer-1").status_code == 200
        assert mock.ledger(key="newcomer-1")["tracked"] is False
        clock.now += 601
        # Idle now: it makes room, and only it.
        assert embed_as(http, "newcomer-2").status_code == 200
        assert mock.ledger(key="newcomer-2")["tracked"] is True
        assert mock.ledger(key="resetter")["tracked"] is False
        clock.now += 601
        assert embed_as(http, "newcomer-3").status_code == 200
        everyone = mock.ledger()
        assert set(everyone["keys"]) == {"spender", "faulted", "own-settings", "newcomer-2"}
        assert (everyone["keys_forgotten"], everyone["untracked_calls"]) == (1, 2)
        assert mock.faults(key="faulted")["injected"] == {"server_error": 1}
        assert mock.faults(key="own-settings")["settings"] == "own"

        # The operator's reset empties every ledger: idle accounts without faults of their own may then go,
        # least recently seen first.
        mock.reset_ledger()
        assert mock.ledger()["untracked_calls"] == 0
        clock.now += 601
        assert embed_as(http, "newcomer-4").status_code == 200
        assert embed_as(http, "newcomer-5").status_code == 200
        assert set(mock.ledger()["keys"]) == {"faulted", "own-settings", "newcomer-4", "newcomer-5"}


def test_many_keys_keep_memory_bounded() -> None:
    """A client cycling through 2,000 keys leaves at most max_keys accounts, and every call billed."""
    mock = InProcessMock(Settings(latency=0.0, max_keys=100, key_idle_seconds=0))
    http = httpx2.Client(transport=SyncASGITransport(mock.app, client=("127.0.0.1", 1)), base_url="http://mock")
    for i in range(2000):
        assert embed_as(http, f"cycling-{i}").is_success
    view = mock.ledger()
    assert len(mock.state.accounts) == 100 == view["keys_tracked"]
    assert (view["keys_forgotten"], view["untracked_calls"]) == (0, 1900), "accounts holding calls are kept"
    assert view["total"]["calls"] == 2000
    # Reset, the accounts hold nothing and (idle after 0 s here) make room for the next keys.
    mock.reset_ledger()
    for i in range(2000, 2150):
        assert embed_as(http, f"cycling-{i}").is_success
    view = mock.ledger()
    assert (view["keys_tracked"], view["keys_forgotten"], view["untracked_calls"]) == (100, 100, 50)
    http.close()


def test_long_keys_that_look_alike_stay_apart() -> None:
    mock = InProcessMock(Settings(latency=0.0))
    one, two = "sk-proj-" + "a" * 40 + "wxyz", "sk-proj-" + "b" * 40 + "wxyz"
    spent = {one: Spent(), two: Spent()}
    chat(mock.client(api_key=one), "gpt-4", "hi", spent[one])
    for _ in range(2):
        chat(mock.client(api_key=two), "gpt-3.5-turbo", "hi", spent[two])
    assert_ledger(mock.ledger(key=one), spent[one])
    assert_ledger(mock.ledger(key=two), spent[two])
    keys = mock.ledger()["keys"]
    assert set(keys) == {"sk-proj-…wxyz", "sk-proj-…wxyz #2"}
    assert sorted(k["total"]["calls"] for k in keys.values()) == [1, 2]


# --- control endpoints: who may see what -----------------------------------------------


def remote(mock: InProcessMock, key: str | None = None, host: str = "203.0.113.7") -> httpx2.Client:
    """A client of the control endpoints from another machine (or, with host=127.0.0.1, this one)."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    transport = SyncASGITransport(mock.app, client=(host, 40000))
    return httpx2.Client(transport=transport, base_url="http://mock", headers=headers)


def test_control_scope_rules() -> None:
    mock = InProcessMock(Settings(latency=0.0))
    alice_spent = Spent()
    chat(mock.client(api_key=ALICE), "gpt-4", "hi", alice_spent)
    chat(mock.client(api_key=BOB), "gpt-4", "hello", Spent())
    with (
        remote(mock, ALICE) as alice,
        remote(mock) as stranger,
        remote(mock, host="127.0.0.1") as operator,
        remote(mock, ALICE, host="127.0.0.1") as proxied_alice,
    ):
        # An attendee on another host, with their key: their own ledger, nobody else's.
        mine = alice.get("/_mock/ledger").json()
        assert (mine["scope"], mine["key"]) == ("key", ALICE)
        assert_ledger(mine, alice_spent)
        # The key decides, not the address: a hub proxying from loopback gets the key's view too.
        assert proxied_alice.get("/_mock/ledger").json() == mine
        assert proxied_alice.get("/_mock/ledger", params={"scope": "key"}).json() == mine
        # With a key, never the server-wide view, even from loopback.
        for client in (alice, proxied_alice):
            refused = client.get("/_mock/ledger", params={"scope": "all"})
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "scope_all_without_key"
            assert client.delete("/_mock/ledger", params={"scope": "all"}).status_code == 403
            assert client.put("/_mock/config", json={"latency": 5}).status_code == 403
        assert alice.get("/_mock/config").json() == {"seed": 0, "latency": 0.0}
        # Without a key, only on loopback.
        for path in ("/_mock/ledger", "/_mock/faults", "/_mock/config"):
            answer = stranger.get(path)
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "loopback_only"
        assert stranger.put("/_mock/faults", json={"rates": {"server_error": 1.0}}).status_code == 403
        assert stranger.delete("/_mock/ledger").status_code == 403
        assert operator.get("/_mock/ledger", params={"scope": "key"}).status_code == 401
        assert operator.get("/_mock/ledger", params={"scope": "mine"}).status_code == 400
        everyone = operator.get("/_mock/ledger", params={"scope": "all"}).json()
        assert everyone == operator.get("/_mock/ledger").json()
        assert everyone["scope"] == "all" and everyone["total"]["calls"] == 2
        assert set(everyone["keys"]) == {ALICE, BOB_LABEL}
        # Alice resets hers from afar; the operator's totals stand.
        assert alice.delete("/_mock/ledger").json() == mine
        assert alice.get("/_mock/ledger").json()["total"]["calls"] == 0
        assert operator.get("/_mock/ledger").json()["total"]["calls"] == 2


def test_a_key_follows_the_server_faults_until_it_sets_its_own() -> None:
    mock = InProcessMock(Settings(latency=0.0))
    clients = {ALICE: mock.client(api_key=ALICE), BOB: mock.client(api_key=BOB)}
    with remote(mock, ALICE) as alice, remote(mock, host="127.0.0.1") as operator:
        assert operator.put("/_mock/faults", json={"rates": {"server_error": 1.0}}).status_code == 200
        for client in clients.values():
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="gpt-4", messages=ask("hi"))
        view = alice.get("/_mock/faults").json()
        assert (view["settings"], view["rates"]) == ("server", {"server_error": 1.0})
        assert view["injected"] == {"server_error": 1}, "what her requests received"
        # Alice's own settings (none) replace the server's for her alone.
        assert alice.put("/_mock/faults", json={"rates": {}}).json()["settings"] == "own"
        assert clients[ALICE].chat.completions.create(model="gpt-4", messages=ask("hi")).choices
        with pytest.raises(openai.InternalServerError):
            clients[BOB].chat.completions.create(model="gpt-4", messages=ask("hi"))
        keys = operator.get("/_mock/faults").json()["keys"]
        assert keys[ALICE]["settings"] == "own" and keys[BOB_LABEL]["injected"] == {"server_error": 2}
        # Dropping them puts her back on the server's.
        assert alice.delete("/_mock/faults").json()["settings"] == "server"
        with pytest.raises(openai.InternalServerError):
            clients[ALICE].chat.completions.create(model="gpt-4", messages=ask("hi"))
        # Her own seed starts from the server's rates, and is hers alone.
        alice.put("/_mock/faults", json={"seed": 3})
        assert alice.get("/_mock/faults").json()["rates"] == {"server_error": 1.0}
        assert operator.get("/_mock/faults").json()["seed"] == 0
        # The operator clears every fault setting, the keys' too.
        operator.delete("/_mock/faults")
        for client in clients.values():
            assert client.chat.completions.create(model="gpt-4", messages=ask("hi")).choices


# --- the operator token -----------------------------------------------------------------

OPERATOR = "op-7Hq2-secret-9xZk"


def test_operator_token_rules() -> None:
    """With a token, no key is no operator, even on loopback: a hub's attendees cannot reset everyone."""
    mock = InProcessMock(Settings(latency=0.0, operator_token=OPERATOR))
    alice_spent = Spent()
    chat(mock.client(api_key=ALICE), "gpt-4", "hi", alice_spent)
    chat(mock.client(api_key=BOB), "gpt-4", "hello", Spent())
    chat(mock.client(api_key=OPERATOR), "gpt-4", "the operator's own call", Spent())
    with (
        remote(mock, host="127.0.0.1") as proxied_nobody,
        remote(mock, OPERATOR, host="127.0.0.1") as operator,
        remote(mock, OPERATOR) as remote_operator,
        remote(mock, ALICE, host="127.0.0.1") as proxied_alice,
        remote(mock, OPERATOR + "x") as guesser,
    ):
        answers = [
            proxied_nobody.get("/_mock/ledger"),
            proxied_nobody.get("/_mock/ledger", params={"scope": "all"}),
            proxied_nobody.delete("/_mock/ledger"),
            proxied_nobody.get("/_mock/faults"),
            proxied_nobody.put("/_mock/faults", json={"rates": {"server_error": 1.0}}),
            proxied_nobody.delete("/_mock/faults"),
            proxied_nobody.get("/_mock/config"),
            proxied_nobody.put("/_mock/config", json={"latency": 5}),
        ]
        for answer in answers:
            assert answer.status_code == 401, answer.text
            error = answer.json()["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["code"] == "operator_token_required"
            assert "operator token" in error["message"] and OPERATOR not in answer.text
        assert mock.ledger()["total"]["calls"] == 3, "nothing was reset"
        assert mock.faults()["rates"] == {}

        # The token, from loopback or afar, is the operator: every key, with no account of its own.
        for client in (operator, remote_operator):
            everyone = client.get("/_mock/ledger").json()
            assert (everyone["scope"], everyone["total"]["calls"]) == ("all", 3)
            assert set(everyone["keys"]) == {ALICE, BOB_LABEL}, "the operator token is no attendee"
            assert OPERATOR not in str(everyone) and OPERATOR[:8] not in str(everyone)
            assert client.get("/_mock/ledger", params={"scope": "key"}).status_code == 400
        assert operator.put("/_mock/config", json={"latency": 0.0}).status_code == 200
        assert remote_operator.put("/_mock/faults", json={"rates": {"unavailable": 0.5}}).json()["scope"] == "all"
        assert operator.get("/_mock/faults").json()["rates"] == {"unavailable": 0.5}

        # Attendees still see only their own, and a near miss of the token is just another key.
        mine = proxied_alice.get("/_mock/ledger").json()
        assert (mine["scope"], mine["key"]) == ("key", ALICE)
        assert_ledger(mine, alice_spent)
        refused = proxied_alice.get("/_mock/ledger", params={"scope": "all"})
        assert refused.status_code == 403 and "operator token" in refused.json()["error"]["message"]
        assert proxied_alice.delete("/_mock/ledger", params={"scope": "all"}).status_code == 403
        assert proxied_alice.put("/_mock/config", json={"latency": 5}).status_code == 403
        assert guesser.get("/_mock/ledger").json()["scope"] == "key"
        assert guesser.delete("/_mock/ledger").json()["total"]["calls"] == 0

        reset = remote_operator.delete("/_mock/ledger").json()
        assert reset["total"]["calls"] == 3
        assert mock.ledger()["total"]["calls"] == 0


@pytest.mark.parametrize(
    ("env", "token"),
    [({"MOCK_LLM_OPERATOR_TOKEN": "short-pass"}, None), ({}, "has a space in it"), ({}, "ünïcödé-token-1")],
)
def test_a_bad_operator_token_is_refused_without_showing_it(env: dict[str, str], token: str | None) -> None:
    with pytest.raises(ValueError, match="operator token must be") as refused:
        Settings.from_env(env, operator_token=token)
    secret = token or env["MOCK_LLM_OPERATOR_TOKEN"]
    assert secret not in str(refused.value)
    assert OPERATOR not in repr(Settings(operator_token=OPERATOR)), "settings never show the token"
    assert Settings.from_env({"MOCK_LLM_OPERATOR_TOKEN": OPERATOR}).operator_token == OPERATOR
    assert Settings.from_env({"MOCK_LLM_OPERATOR_TOKEN": ""}).operator_token is None


def test_x_forwarded_for_cannot_make_a_client_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with FORWARDED_ALLOW_IPS=* in the environment, the address is the connection's."""
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    spoofed = {"x-forwarded-for": "127.0.0.1"}

    def ledger_from_afar(app: object) -> httpx2.Response:
        transport = SyncASGITransport(app, client=("203.0.113.7", 40000))
        with httpx2.Client(transport=transport, base_url="http://mock") as http:
            return http.get("/_mock/ledger", headers=spoofed)

    # A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: loopback only when a.b.c.d is.
    mock = InProcessMock(Settings(latency=0.0))
    assert ledger_from_afar(mock.app).status_code == 403
    for host, status in [("::ffff:127.0.0.1", 200), ("::1", 200), ("127.8.0.1", 200), ("::ffff:203.0.113.7", 403)]:
        with remote(mock, host=host) as client:
            assert client.get("/_mock/ledger").status_code == status, host

    config = uvicorn_config(Settings(port=0, latency=0.0))  # what `python -m mock_llm` serves
    config.load()
    answer = ledger_from_afar(config.loaded_app)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "loopback_only"
    # What uvicorn does by default, and why it is switched off: the header alone made this the operator.
    default = uvicorn.Config(InProcessMock(Settings(latency=0.0)).app, proxy_headers=True)
    default.load()
    assert ledger_from_afar(default.loaded_app).status_code == 200


@pytest.mark.server
def test_operator_token_on_a_real_server() -> None:
    """As a hub runs it: the token from the environment; a request from loopback without it is refused."""
    mock = MockProcess("--latency", "off", env={"MOCK_LLM_OPERATOR_TOKEN": OPERATOR})
    try:
        base = mock.base_url.removesuffix("/v1")
        with openai.OpenAI(base_url=mock.base_url, api_key=ALICE, max_retries=0) as alice:
            chat(alice, "gpt-4", "hi", Spent())
        with httpx2.Client(base_url=base) as nobody:
            assert nobody.delete("/_mock/ledger").status_code == 401
        with httpx2.Client(base_url=base, headers={"authorization": f"Bearer {OPERATOR}"}) as operator:
            everyone = operator.get("/_mock/ledger").json()
            assert everyone["total"]["calls"] == 1 and set(everyone["keys"]) == {ALICE}
            assert operator.delete("/_mock/ledger").status_code == 200
        with httpx2.Client(base_url=base, headers={"authorization": f"Bearer {ALICE}"}) as as_alice:
            assert as_alice.get("/_mock/ledger").json()["total"]["calls"] == 0
    finally:
        log = mock.stop()
    assert OPERATOR not in log and "Traceback" not in log, log


# --- a real server ----------------------------------------------------------------------


@pytest.fixture
def room(live: BackgroundServer) -> Iterator[dict[str, openai.OpenAI]]:
    with (
        openai.OpenAI(base_url=live.base_url, api_key=ALICE, max_retries=0) as alice,
        openai.OpenAI(base_url=live.base_url, api_key=BOB, max_retries=0) as bob,
    ):
        yield {ALICE: alice, BOB: bob}


def control(live: BackgroundServer, key: str | None = None) -> httpx2.Client:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx2.Client(base_url=live.base_url.removesuffix("/v1"), headers=headers)


@pytest.mark.server
def test_two_keys_on_a_real_server(live: BackgroundServer, room: dict[str, openai.OpenAI]) -> None:
    alice, bob = alice_and_bob(room)
    with control(live, ALICE) as as_alice, control(live, BOB) as as_bob, control(live) as operator:
        assert_ledger(as_alice.get("/_mock/ledger").json(), alice)
        assert_ledger(as_bob.get("/_mock/ledger").json(), bob)
        assert_ledger(operator.get("/_mock/ledger").json(), alice + bob)

        # Alice's rate_limit=1.0 is hers: Bob is never refused.
        assert as_alice.put("/_mock/faults", json={"rates": {"rate_limit": 1.0}}).status_code == 200
        for _ in range(3):
            with pytest.raises(openai.RateLimitError):
                room[ALICE].chat.completions.create(model="gpt-4", messages=ask("hi"))
            chat(room[BOB], "gpt-3.5-turbo", "hi", bob)
        assert_ledger(as_alice.get("/_mock/ledger").json(), alice, rejected=3)
        assert_ledger(as_bob.get("/_mock/ledger").json(), bob)
        assert as_bob.get("/_mock/faults").json()["rates"] == {}
        everyone = operator.get("/_mock/ledger").json()
        assert_ledger(everyone, alice + bob, rejected=3)
        assert_ledger(everyone["keys"][ALICE], alice, rejected=3)
        assert_ledger(everyone["keys"][BOB_LABEL], bob)

        assert_ledger(as_alice.delete("/_mock/ledger").json(), alice, rejected=3)
        assert_ledger(as_alice.get("/_mock/ledger").json(), Spent())
        assert_ledger(as_bob.get("/_mock/ledger").json(), bob)
        assert_ledger(operator.get("/_mock/ledger").json(), alice + bob, rejected=3)
        assert as_alice.get("/_mock/ledger", params={"scope": "all"}).status_code == 403


@pytest.mark.server
@pytest.mark.anyio
async def test_keys_stay_apart_under_concurrency(live: BackgroundServer) -> None:
    """Forty-two calls in flight at once from two keys, one of them faulted: each call lands on its own key."""
    with control(live, ALICE) as as_alice:
        as_alice.put("/_mock/faults", json={"rates": {"server_error": 1.0}})
    spent = {ALICE: Spent(), BOB: Spent()}
    failures = {ALICE: 0, BOB: 0}

    async def one(client: openai.AsyncOpenAI, key: str, question: str) -> None:
        try:
            reply = await client.chat.completions.create(model="gpt-4", messages=ask(question))
        except openai.InternalServerError:
            failures[key] += 1
            return
        assert reply.usage is not None
        spent[key].add("gpt-4", reply.usage.prompt_tokens, reply.usage.completion_tokens)

    async with (
        openai.AsyncOpenAI(base_url=live.base_url, api_key=ALICE, max_retries=0) as alice,
        openai.AsyncOpenAI(base_url=live.base_url, api_key=BOB, max_retries=0) as bob,
    ):
        await asyncio.gather(*(one(alice, ALICE, q) for q in QUESTIONS * 7), *(one(bob, BOB, q) for q in QUESTIONS * 7))
    assert failures == {ALICE: 21, BOB: 0}
    with control(live, BOB) as as_bob, control(live) as operator:
        assert_ledger(as_bob.get("/_mock/ledger").json(), spent[BOB])
        everyone = operator.get("/_mock/ledger").json()
        assert_ledger(everyone, spent[BOB], rejected=0)
        assert everyone["keys"][ALICE]["total"]["calls"] == 0


@pytest.mark.parametrize(
    ("authorization", "label"),
    [
        (b"Bearer " + b"k" * 20_000, "kkkkkkkk…kkkk"),
        (b"Bearer \xff\xfe\x01key", "\ufffd\ufffd?key"),
        (b"bearer   spaced  ", "spaced"),
        (b"Basic YWxhZGRpbjpvcGVu", None),  # another scheme: no key
        (b"Bearer", None),
        (b"Bearer    ", None),
    ],
)
def test_any_authorization_header(authorization: bytes, label: str | None) -> None:
    """Odd or huge keys are a key (shown safely) or none; never a 500."""
    mock = InProcessMock(Settings(latency=0.0))
    with httpx2.Client(transport=SyncASGITransport(mock.app, client=("127.0.0.1", 1)), base_url="http://m") as http:
        answer = http.post(
            "/v1/embeddings",
            json={"model": "text-embedding-3-small", "input": "x"},
            headers=[(b"authorization", authorization)],
        )
        assert answer.status_code == 200, answer.text
        mine = http.get("/_mock/ledger", headers=[(b"authorization", authorization)]).json()
    everyone = mock.ledger()
    assert everyone["total"]["calls"] == 1
    if label is None:
        assert everyone["keys"] == {} and mine["scope"] == "all"
    else:
        assert list(everyone["keys"]) == [label] and (mine["scope"], mine["key"]) == ("key", label)
        assert mine["total"]["calls"] == 1
