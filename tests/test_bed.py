"""The test bed itself: registries in every mode, the token server, images, skopeo, the demo."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
import requests

from tests.bed import CANARY_PASSWORD, CANARY_USER
from tests.bed.images import (
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    Image,
    docker_manifest_list,
    oci_image,
    oci_index,
    push_image,
    push_image_raw,
    schema2_image,
    sha256_digest,
)
from tests.bed.registry import RunningRegistry
from tests.bed.skopeo import skopeo, skopeo_inspect_digest
from tests.bed.tokenserver import TokenServer

CANARY = (CANARY_USER, CANARY_PASSWORD)
ROOT = Path(__file__).resolve().parent.parent


def token_for(
    server: TokenServer, scope: str, auth: tuple[str, str] | None = CANARY
) -> requests.Response:
    return requests.get(
        server.realm, params={"service": server.service, "scope": scope}, auth=auth, timeout=5
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_codes(response: requests.Response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


# -- the four registry modes ------------------------------------------------------------------


def test_plain_registry_answers_200(registry_plain: RunningRegistry) -> None:
    response = requests.get(f"{registry_plain.url}/v2/", timeout=5)
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert registry_plain.url == f"http://{registry_plain.host}"


def test_htpasswd_registry_challenges_basic(registry_htpasswd: RunningRegistry) -> None:
    url = f"{registry_htpasswd.url}/v2/"
    anonymous = requests.get(url, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert requests.get(url, auth=CANARY, timeout=5).status_code == 200
    assert requests.get(url, auth=(CANARY_USER, "wrong"), timeout=5).status_code == 401


def test_token_registry_challenges_bearer(registry_token: RunningRegistry) -> None:
    server = registry_token.token_server
    assert server is not None
    response = requests.get(f"{registry_token.url}/v2/", timeout=5)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{server.realm}"' in challenge
    assert f'service="{server.service}"' in challenge


def test_delete_disabled_answers_405_unsupported(
    registry_nodelete: RunningRegistry, unique_repo: str
) -> None:
    image = schema2_image("nodelete")
    push_image_raw(registry_nodelete.url, unique_repo, image, "v1")
    response = requests.delete(
        f"{registry_nodelete.url}/v2/{unique_repo}/manifests/{image.digest}", timeout=5
    )
    assert response.status_code == 405
    assert error_codes(response) == ["UNSUPPORTED"]


def test_distribution_deletes_by_digest_only(
    registry_plain: RunningRegistry, unique_repo: str
) -> None:
    image = schema2_image("delete")
    push_image_raw(registry_plain.url, unique_repo, image, "v1")
    base = f"{registry_plain.url}/v2/{unique_repo}/manifests"
    by_tag = requests.delete(f"{base}/v1", timeout=5)
    assert by_tag.status_code == 400
    assert error_codes(by_tag) == ["DIGEST_INVALID"]
    assert requests.delete(f"{base}/{image.digest}", timeout=5).status_code == 202
    assert requests.head(f"{base}/v1", timeout=5).status_code == 404


def test_fresh_registry_has_clean_storage(
    fresh_registry: Callable[..., RunningRegistry], unique_repo: str
) -> None:
    first = fresh_registry()
    push_image_raw(first.url, unique_repo, oci_image("fresh"), "v1")
    second = fresh_registry(delete_enabled=False)
    assert second.workdir != first.workdir
    catalog = requests.get(f"{second.url}/v2/_catalog", timeout=5).json()
    assert catalog["repositories"] == []


# -- the token server -------------------------------------------------------------------------


def test_token_has_the_shape_distribution_wants(token_server: TokenServer) -> None:
    response = token_for(token_server, "repository:team/app:pull,push")
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "RS256"
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", header["kid"])
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["aud"] == token_server.service
    assert claims["iss"] == token_server.issuer
    assert claims["sub"] == CANARY_USER
    assert all(isinstance(claims[k], int) for k in ("exp", "nbf", "iat"))
    assert claims["access"] == [
        {"type": "repository", "name": "team/app", "actions": ["pull", "push"]}
    ]


def test_token_server_refuses_a_wrong_password(token_server: TokenServer) -> None:
    response = token_for(token_server, "repository:team/app:pull", (CANARY_USER, "wrong"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    seen = token_server.requests_seen[-1]
    assert (seen.status, seen.auth_sent, seen.user) == (401, True, CANARY_USER)


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_token_field_variants(field: str) -> None:
    with TokenServer({"u": "p"}, token_field=field, anonymous_pull=True) as server:
        body = token_for(server, "repository:a/b:pull,push", None).json()
        assert set(body) == {field, "expires_in", "issued_at"}
        claims = jwt.decode(body[field], options={"verify_signature": False})
        assert claims["access"] == [{"type": "repository", "name": "a/b", "actions": ["pull"]}]


def test_registry_accepts_the_catalog_token(registry_token: RunningRegistry) -> None:
    server = registry_token.token_server
    assert server is not None
    server.clear_requests()
    token = token_for(server, "registry:catalog:*").json()["token"]
    response = requests.get(f"{registry_token.url}/v2/_catalog", headers=bearer(token), timeout=5)
    assert response.status_code == 200
    assert "repositories" in response.json()
    seen = server.requests_seen
    assert [(s.method, s.scopes, s.user) for s in seen] == [
        ("GET", ["registry:catalog:*"], CANARY_USER)
    ]


def test_registry_refuses_an_anonymous_push_token(
    registry_token: RunningRegistry, unique_repo: str
) -> None:
    server = registry_token.token_server
    assert server is not None
    token = token_for(server, f"repository:{unique_repo}:pull,push", None).json()["token"]
    assert jwt.decode(token, options={"verify_signature": False})["access"] == []
    response = requests.post(
        f"{registry_token.url}/v2/{unique_repo}/blobs/uploads/", headers=bearer(token), timeout=5
    )
    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_registry_refuses_a_token_signed_by_another_key(registry_token: RunningRegistry) -> None:
    with TokenServer({CANARY_USER: CANARY_PASSWORD}, fresh_key=True) as stranger:
        token = token_for(stranger, "registry:catalog:*").json()["token"]
    response = requests.get(f"{registry_token.url}/v2/_catalog", headers=bearer(token), timeout=5)
    assert response.status_code == 401


def test_refresh_token_grant(registry_token: RunningRegistry) -> None:
    server = registry_token.token_server
    assert server is not None
    common = {"service": server.service, "client_id": "portside-tests"}
    login = requests.post(
        server.realm,
        data={
            **common,
            "grant_type": "password",
            "username": CANARY_USER,
            "password": CANARY_PASSWORD,
            "access_type": "offline",
            "scope": "registry:catalog:*",
        },
        timeout=5,
    ).json()
    assert login["access_token"] and login["refresh_token"]
    assert server.requests_seen[-1].params["password"] == ["***"]

    for refresh_token in (login["refresh_token"], server.issue_refresh_token(CANARY_USER)):
        data = {**common, "grant_type": "refresh_token", "refresh_token": refresh_token}
        answer = requests.post(
            server.realm, data={**data, "scope": "registry:catalog:*"}, timeout=5
        )
        assert answer.status_code == 200
        assert "refresh_token" not in answer.json()
        catalog = requests.get(
            f"{registry_token.url}/v2/_catalog",
            headers=bearer(answer.json()["access_token"]),
            timeout=5,
        )
        assert catalog.status_code == 200

    unknown = {**common, "grant_type": "refresh_token", "refresh_token": "rt-unknown"}
    assert requests.post(server.realm, data=unknown, timeout=5).status_code == 401
    assert server.requests_seen[-1].grant_type == "refresh_token"


# -- images and pushing -----------------------------------------------------------------------


def test_images_are_deterministic_and_real() -> None:
    assert schema2_image("a").digest == schema2_image("a").digest
    assert schema2_image("a").digest != schema2_image("b").digest
    assert oci_index("a").digest != oci_index("b").digest
    image = schema2_image("real", layers=2)
    config = json.loads(image.config.data) if image.config else {}
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", config["created"])
    diff_ids = config["rootfs"]["diff_ids"]
    for n, (layer, diff_id) in enumerate(zip(image.layers, diff_ids, strict=True)):
        raw = gzip.decompress(layer.data)
        assert sha256_digest(raw) == diff_id
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            assert tar.getnames() == [f"portside/layer-{n}.bin"]
    index = json.loads(oci_index("p").manifest_bytes)
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]


@pytest.mark.parametrize(
    "image",
    [schema2_image("skopeo"), oci_image("skopeo"), oci_index("skopeo"), docker_manifest_list("s")],
    ids=["schema2", "oci", "oci-index", "manifest-list"],
)
def test_push_raw_then_skopeo_sees_the_same_digest(
    registry_plain: RunningRegistry, unique_repo: str, image: Image, require_skopeo: None
) -> None:
    digest = push_image_raw(registry_plain.url, unique_repo, image, "v1")
    assert digest == image.digest
    assert skopeo_inspect_digest(f"{registry_plain.host}/{unique_repo}:v1") == image.digest
    if image.media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST):
        child = image.children[1]
        ref = f"{registry_plain.host}/{unique_repo}@{child.digest}"
        assert skopeo_inspect_digest(ref) == child.digest


def test_push_raw_with_credentials(
    registry_htpasswd: RunningRegistry,
    registry_token: RunningRegistry,
    unique_repo: str,
    require_skopeo: None,
) -> None:
    image = oci_image("authenticated")
    push_image_raw(registry_htpasswd.url, unique_repo, image, "v1", auth=CANARY)
    token_server = registry_token.token_server
    push_image_raw(registry_token.url, unique_repo, image, "v1", CANARY, token_server)
    for registry in (registry_htpasswd, registry_token):
        ref = f"{registry.host}/{unique_repo}:v1"
        assert skopeo_inspect_digest(ref, creds=CANARY) == image.digest


def test_skopeo_errors_hide_credentials(
    registry_htpasswd: RunningRegistry, require_skopeo: None
) -> None:
    with pytest.raises(RuntimeError) as caught:
        skopeo(
            "inspect",
            "--raw",
            f"--creds={CANARY_USER}:{CANARY_PASSWORD}x",
            f"docker://{registry_htpasswd.host}/missing/repo:v1",
        )
    assert CANARY_PASSWORD not in str(caught.value)


# -- the demo entry point ---------------------------------------------------------------------


def test_demo_serve_prints_settings_and_stops_on_sigterm(
    tmp_path: Path, require_registry: None
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bed",
            "serve",
            "--auth",
            "htpasswd",
            "--workdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        settings: dict[str, str] = {}
        assert process.stdout is not None
        for line in process.stdout:
            key, _, value = line.strip().partition("=")
            settings[key] = value
            if key == "ready":
                break
        assert settings["user"] == CANARY_USER and settings["password"] == CANARY_PASSWORD
        assert (tmp_path / "bed.pid").read_text().strip() == str(process.pid)
        ping = requests.get(f"http://{settings['host']}/v2/", auth=CANARY, timeout=5)
        assert ping.status_code == 200
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not (tmp_path / "bed.pid").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("mode", ["registry_plain", "registry_token"])
def test_push_image_through_the_project_client(
    mode: str, request: pytest.FixtureRequest, unique_repo: str, require_skopeo: None
) -> None:
    distribution = pytest.importorskip("drivers.distribution")
    from drivers.auth.credentials import Credential
    from drivers.http.transport import Transport

    registry: RunningRegistry = request.getfixturevalue(mode)
    credential = Credential(CANARY_USER, CANARY_PASSWORD, source="test") if registry.users else None
    client = distribution.DistributionClient(Transport(registry.host, credential))
    image = oci_index("project-client")
    assert push_image(client, unique_repo, image, "v1") == image.digest
    creds = CANARY if registry.users else None
    assert skopeo_inspect_digest(f"{registry.host}/{unique_repo}:v1", creds) == image.digest
