"""The auth strategies of drivers/auth/strategies.py, through a Transport against scripted servers.

The registry's own challenge flow is tested in test_challenge.py; these are the strategies
the native drivers use for their APIs: a fixed token or Basic pair, and a login exchange.
"""

from __future__ import annotations

import base64
import threading
import time

from drivers.auth.strategies import Anonymous, BasicAuth, LoginExchange, Request, StaticToken
from drivers.errors import Unauthorized
from drivers.http.client import Response
from drivers.http.transport import Transport
from tests.scripted import Answer, Seen, json_answer

CANARY = "canary-auth-S3cr3t-5151"


def _status(transport: Transport, url: str) -> int:
    response = transport.request("GET", url)
    response.content  # noqa: B018  (read to the end: the connection goes back to the pool)
    return response.status_code


def test_a_fixed_header_goes_to_the_transports_host_only(server, other_server):
    server.always("/api/", json_answer({}))
    other_server.always("/elsewhere", json_answer({}))
    token = Transport(server.host, auth=StaticToken(CANARY, scheme="token"))
    basic = Transport(server.host, auth=BasicAuth("robot$ci", CANARY))

    assert _status(token, "/api/a") == 200
    assert _status(basic, f"http://{server.host}/api/b") == 200
    assert _status(token, f"http://{other_server.host}/elsewhere") == 200

    first, second = server.requests_to("/api/")
    assert first.headers["Authorization"] == f"token {CANARY}"
    pair = base64.b64encode(f"robot$ci:{CANARY}".encode()).decode()
    assert second.headers["Authorization"] == f"Basic {pair}"
    (other,) = other_server.requests_to("/elsewhere")
    assert "Authorization" not in other.headers, "credentials never go to another host"


def test_a_refusal_says_whose_credentials_from_where_and_the_fix_never_the_secret():
    token = StaticToken(CANARY, service="Quay", source="$PORTSIDE_REPO_QUAY_TOKEN", hint="fix")
    refused = token.refused(401)
    assert isinstance(refused, Unauthorized) and refused.status == 401
    assert str(refused) == "Quay refused the token from $PORTSIDE_REPO_QUAY_TOKEN (HTTP 401)"
    assert refused.hint == "fix"
    basic = BasicAuth("u", CANARY, service="Harbor", source="the Docker config").refused()
    assert str(basic).startswith("Harbor refused the credentials from the Docker config")
    anonymous = Anonymous(service="the Harbor API", hint="pass --repo-harbor-username").refused()
    assert "no credentials were found" in str(anonymous) and anonymous.hint
    texts = [f"{e} {e.hint} {e!r}" for e in (refused, basic, anonymous)]
    assert not any(CANARY in text for text in texts)


def test_a_request_never_shows_its_headers_or_body():
    request = Request("POST", "https://x/login", {"Authorization": CANARY}, CANARY.encode())
    assert CANARY not in repr(request)


class Hub:
    """A login API: `POST /login` hands out J1, J2, …; `/api/` accepts only the current one,
    or none at all once `refuse` is set."""

    def __init__(self) -> None:
        self.issued = 0
        self.refuse = False
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def login(self, seen: Seen) -> Answer:
        with self.lock:
            self.issued += 1
            self.calls.append(("login", seen.body.decode()))
            return json_answer({"token": f"J{self.issued}"})

    def api(self, seen: Seen) -> Answer:
        auth = seen.headers.get("Authorization", "")
        with self.lock:
            self.calls.append(("api", auth))
            ok = not self.refuse and auth == f"Bearer J{self.issued}"
        return json_answer({}) if ok else json_answer({"detail": "Invalid JWT"}, 401)


def _login_exchange(server, hub: Hub) -> Transport:
    def token_from(response: Response) -> str:
        return response.json()["token"]

    for _ in range(50):
        server.script("/login", hub.login)
        server.script("/api/", hub.api)
    login = LoginExchange(
        lambda: Request("POST", f"http://{server.host}/login", data=CANARY.encode()),
        token_from,
        service="Docker Hub",
        source="$PORTSIDE_REPO_DOCKER_HUB_USERNAME and $PORTSIDE_REPO_DOCKER_HUB_PASSWORD",
        hint="check the username and password",
    )
    return Transport(server.host, auth=login)


def test_the_login_is_made_once_and_again_once_when_its_token_expired(server):
    hub = Hub()
    transport = _login_exchange(server, hub)
    assert [_status(transport, "/api/a") for _ in range(2)] == [200, 200]
    hub.issued += 1  # the Hub forgets J1: it expired

    assert _status(transport, "/api/b") == 200

    assert [name for name, _ in hub.calls] == ["login", "api", "api", "api", "login", "api"]
    assert hub.calls[-1] == ("api", "Bearer J3")


def test_a_token_still_refused_after_the_new_login_is_the_strategys_refusal(server):
    hub = Hub()
    hub.refuse = True  # a token that may log in but not do this
    transport = _login_exchange(server, hub)

    assert _status(transport, "/api/a") == 401

    assert [name for name, _ in hub.calls] == ["login", "api", "login", "api"]
    refused = transport.refused(401)
    assert "Docker Hub refused the credentials from $PORTSIDE_REPO_DOCKER_HUB" in str(refused)
    assert refused.hint == "check the username and password"


def test_the_login_request_is_retried_like_any_other(server, sleeps):
    hub = Hub()
    server.script("/login", Answer(503), json_answer({}, 429, **{"Retry-After": "2"}))
    transport = _login_exchange(server, hub)
    assert _status(transport, "/api/a") == 200
    assert len(server.requests_to("/login")) == 3 and sleeps[-1] == 2.0


def test_threads_share_one_login(server):
    hub = Hub()
    slow_login = hub.login

    def login(seen: Seen) -> Answer:
        time.sleep(0.2)  # long enough for every thread to want a token meanwhile
        return slow_login(seen)

    hub.login = login  # type: ignore[method-assign]
    transport = _login_exchange(server, hub)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(_status(transport, "/api/x")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 8
    assert [name for name, _ in hub.calls].count("login") == 1
