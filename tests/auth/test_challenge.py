"""The registry's challenge flow (drivers/auth/challenge.py) through a Transport, against a
scripted registry and token server: Basic, Bearer with scopes and a token cache, the
`token`/`access_token` answers, the identitytoken refresh grant and the registrytoken."""

from __future__ import annotations

import pytest

from drivers.auth.challenge import parse_challenge
from drivers.auth.credentials import Credential
from drivers.distribution import DistributionClient
from drivers.errors import Unauthorized
from drivers.http.transport import Transport
from tests.scripted import json_answer, oci_errors

CANARY = "canary-S3cr3t-4242"


def test_parse_bearer_challenge_with_quoted_commas():
    c = parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",'
        'scope="repository:a/b:pull,push repository:c:pull"'
    )
    assert c is not None and c.scheme == "bearer"
    assert c.realm == "https://auth.example/token"
    assert c.params["service"] == "reg"
    assert c.params["scope"] == "repository:a/b:pull,push repository:c:pull"


def test_parse_basic_challenge():
    c = parse_challenge('Basic realm="Registry Realm"')
    assert c is not None and c.scheme == "basic" and c.realm == "Registry Realm"


def test_bearer_token_is_scoped_cached_and_accepts_access_token(server, other_server):
    realm = f"http://{other_server.host}/token"
    challenge = {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg"'}

    def registry(seen):
        if seen.headers.get("Authorization") == "Bearer T1":
            return json_answer({"name": "a/b", "tags": ["v1"]})
        return oci_errors(401, "UNAUTHORIZED", "authentication required", **challenge)

    for _ in range(10):
        server.script("/v2/", registry)
    other_server.always("/token", json_answer({"access_token": "T1", "expires_in": 300}))
    cred = Credential(username="alice", password=CANARY, source="test")
    client = DistributionClient(Transport(server.host, cred))
    assert client.list_tags("a/b") == ["v1"]
    assert client.list_tags("a/b") == ["v1"]
    token_requests = other_server.requests_to("/token")
    assert len(token_requests) == 1, "the token is cached per scope"
    assert "scope=repository%3Aa%2Fb%3Apull" in token_requests[0].path
    assert "service=reg" in token_requests[0].path
    assert token_requests[0].headers["Authorization"].startswith("Basic ")
    client.list_tags("c/d")
    assert len(other_server.requests_to("/token")) == 2, "another scope needs another token"


def test_identity_token_uses_the_refresh_token_grant(server, other_server):
    realm = f"http://{other_server.host}/token"
    challenge = {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg"'}
    for _ in range(3):
        server.script(
            "/v2/",
            lambda seen: (
                json_answer({})
                if seen.headers.get("Authorization") == "Bearer T2"
                else oci_errors(401, "UNAUTHORIZED", **challenge)
            ),
        )
    other_server.always("/token", json_answer({"token": "T2"}))
    cred = Credential(username="<token>", identity_token=CANARY, source="test")
    Transport(server.host, cred).request("GET", "/v2/")
    (grant,) = other_server.requests_to("/token")
    assert grant.method == "POST"
    form = dict(pair.split("=", 1) for pair in grant.body.decode().split("&"))
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == CANARY
    assert form["service"] == "reg"


def test_registry_token_is_sent_as_the_bearer_token(server):
    challenge = {"WWW-Authenticate": 'Bearer realm="http://unused.invalid/token"'}
    server.script("/v2/", oci_errors(401, "UNAUTHORIZED", **challenge), json_answer({}))
    cred = Credential(registry_token="RT", source="test")
    assert Transport(server.host, cred).request("GET", "/v2/").status_code == 200
    assert server.seen[-1].headers["Authorization"] == "Bearer RT"


def test_refused_basic_credentials_name_the_registry_but_not_the_secret(server):
    server.always(
        "/v2/", oci_errors(401, "UNAUTHORIZED", **{"WWW-Authenticate": 'Basic realm="r"'})
    )
    cred = Credential(username="alice", password=CANARY, source="auths in /x/config.json")
    client = DistributionClient(Transport(server.host, cred))
    with pytest.raises(Unauthorized) as err:
        client.list_tags("a/b")
    text = f"{err.value} {err.value.hint} {err.value.url} {err.value!r}"
    assert server.host in str(err.value) and "/x/config.json" in str(err.value)
    assert CANARY not in text


def test_anonymous_against_a_private_registry_says_how_to_log_in(server):
    server.always(
        "/v2/", oci_errors(401, "UNAUTHORIZED", **{"WWW-Authenticate": 'Basic realm="r"'})
    )
    with pytest.raises(Unauthorized) as err:
        DistributionClient(Transport(server.host)).list_tags("a/b")
    assert "portside login" in (err.value.hint or "")
