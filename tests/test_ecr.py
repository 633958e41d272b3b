"""The native ECR driver against a real moto server (the stand-in for AWS ECR).

moto's image digest is not sha256 of the manifest, so digests are compared with what
`describe_images` reports, never recomputed from the body.
"""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import boto3
import pytest
from moto.server import ThreadedMotoServer

from drivers.errors import CredentialError, Forbidden, NotFound, RateLimited, Unauthorized
from drivers.manifest import OCI_MANIFEST
from drivers.reference import Reference, Repository
from drivers.registries import RegistryOptions, client_for, driver_for, ecr_driver
from drivers.registries.contract import DeletesManifests, DeletesTagsInBulk, ListsRepositories
from drivers.registries.ecr_aws import EcrLogin
from drivers.registries.ecr_driver import EcrDriver
from tests.bed.images import oci_image
from tests.cli import run_cli

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
# Push times one minute apart (moto stamps pushes in whole seconds, so a test's pushes tie).
EPOCH = 1_700_000_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, docker_config) -> object:
    """AWS settings pointing boto3 at moto; returns an ECR client for seeding and checking."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the host's region must win
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    return boto3.client("ecr", region_name=REGION, endpoint_url=moto_endpoint)


@pytest.fixture
def repo(aws) -> str:
    name = f"app-{uuid.uuid4().hex[:8]}"
    aws.create_repository(repositoryName=name)
    return name


def push(ecr, repo: str, seed: str, *tags: str, minute: int | None = None) -> str:
    """Put one OCI image under `tags`; returns the digest ECR gave it."""
    body = oci_image(f"{repo}/{seed}").manifest_bytes.decode()
    for tag in tags:
        ecr.put_image(repositoryName=repo, imageManifest=body, imageTag=tag)
    digest = digests(ecr, repo)[tags[0]]
    if minute is not None:
        _set_push_time(repo, digest, EPOCH + 60 * minute)
    return digest


def _set_push_time(repo: str, digest: str, when: int) -> None:
    from moto.ecr.models import ecr_backends

    for image in ecr_backends[ACCOUNT][REGION].repositories[repo].images:
        if image.get_image_digest() == digest:
            image.image_pushed_at = when


def digests(ecr, repo: str) -> dict[str, str]:
    """tag -> digest, as ECR reports them now."""
    pages = ecr.get_paginator("describe_images").paginate(repositoryName=repo)
    return {
        tag: image["imageDigest"]
        for page in pages
        for image in page["imageDetails"]
        for tag in image.get("imageTags", ())
    }


def driver() -> EcrDriver:
    found = driver_for(HOST, RegistryOptions())
    assert isinstance(found, EcrDriver)
    return found


def test_list_tags_gives_digests_and_push_times(aws, repo):
    first = push(aws, repo, "a", "v1", "latest", minute=0)
    second = push(aws, repo, "b", "v2", minute=5)

    listed = {t.tag: t for t in driver().list_tags(Repository(HOST, repo))}

    assert set(listed) == {"v1", "latest", "v2"}
    assert listed["latest"].digest == listed["v1"].digest == first
    assert listed["v2"].digest == second
    assert listed["v1"].created == datetime.fromtimestamp(EPOCH, timezone.utc)
    assert listed["v2"].created == datetime.fromtimestamp(EPOCH + 300, timezone.utc)


def test_resolve_by_tag_and_by_digest(aws, repo):
    digest = push(aws, repo, "a", "v1")
    ecr = driver()

    by_tag = ecr.resolve(Reference(Repository(HOST, repo), tag="v1"))
    by_digest = ecr.resolve(Reference(Repository(HOST, repo), digest=digest))

    assert by_tag.digest == by_digest.digest == digest
    assert by_tag.media_type == OCI_MANIFEST
    with pytest.raises(NotFound):
        ecr.resolve(Reference(Repository(HOST, repo), tag="nope"))


def test_delete_tag_untags_and_removes_the_image_with_its_last_tag(aws, repo):
    shared = push(aws, repo, "a", "v1", "keep")
    only = push(aws, repo, "b", "v2")
    ecr = driver()

    ecr.delete_tag(Repository(HOST, repo), "v1")
    assert digests(aws, repo) == {"keep": shared, "v2": only}

    ecr.delete_tag(Repository(HOST, repo), "v2")
    remaining = aws.describe_images(repositoryName=repo)["imageDetails"]
    assert [i["imageDigest"] for i in remaining] == [shared]  # the untagged image is gone too

    with pytest.raises(NotFound):
        ecr.delete_tag(Repository(HOST, repo), "v2")


def test_bulk_delete_goes_in_chunks_and_reports_each_tag(aws, repo, monkeypatch):
    for i in range(105):
        body = oci_image(f"{repo}/pr-{i}").manifest_bytes.decode()
        aws.put_image(repositoryName=repo, imageManifest=body, imageTag=f"pr-{i}")
    push(aws, repo, "stay", "main")
    ecr = driver()
    assert isinstance(ecr, DeletesTagsInBulk)
    sizes: list[int] = []
    real = ecr.ecr.batch_delete_image

    def counting(**kwargs):
        sizes.append(len(kwargs["imageIds"]))
        return real(**kwargs)

    monkeypatch.setattr(ecr.ecr, "batch_delete_image", counting)

    wanted = [f"pr-{i}" for i in range(105)] + ["no-such-tag"]
    answers = ecr.delete_tags(Repository(HOST, repo), wanted)

    assert sizes == [100, 6]
    assert [a.tag for a in answers] == wanted
    assert all(a.ok for a in answers[:105])
    (missing,) = [a for a in answers if not a.ok]
    assert missing.tag == "no-such-tag" and "ImageNotFound" in (missing.error or "")
    assert set(digests(aws, repo)) == {"main"}


def test_bulk_delete_of_a_missing_repository_raises_with_the_hint(aws):
    with pytest.raises(NotFound) as raised:
        driver().delete_tags(Repository(HOST, "never-created"), ["a", "b"])
    assert "must already exist" in (raised.value.hint or "")
    assert "aws ecr create-repository --repository-name never-created" in raised.value.hint


@pytest.mark.parametrize(
    ("code", "error", "fix"),
    [
        ("AccessDeniedException", Forbidden, "ecr:BatchDeleteImage"),
        ("ThrottlingException", RateLimited, "run again later"),
        ("ExpiredTokenException", Unauthorized, "AWS_ACCESS_KEY_ID"),
    ],
)
def test_refusals_map_to_the_error_tree(aws, repo, monkeypatch, code, error, fix):
    from botocore.exceptions import ClientError

    ecr = driver()

    def refuse(**kwargs):
        answer = {"Error": {"Code": code, "Message": "refused"}, "ResponseMetadata": {}}
        raise ClientError(answer, "BatchDeleteImage")

    monkeypatch.setattr(ecr.ecr, "batch_delete_image", refuse)
    with pytest.raises(error) as raised:
        ecr.delete_tags(Repository(HOST, repo), ["a"])
    assert fix in (raised.value.hint or "")


def test_get_manifest_returns_the_body_and_ecrs_digest(aws, repo):
    image = oci_image(f"{repo}/a")
    digest = push(aws, repo, "a", "v1")

    manifest = driver().get_manifest(Repository(HOST, repo), "v1")
    again = driver().get_manifest(Repository(HOST, repo), digest)

    assert manifest.body == image.manifest_bytes
    assert manifest.media_type == OCI_MANIFEST
    assert manifest.digest == again.digest == digest
    assert manifest.config is not None and image.config is not None
    assert manifest.config.digest == image.config.digest
    with pytest.raises(NotFound):
        driver().get_manifest(Repository(HOST, repo), "nope")


def test_delete_manifest_takes_every_tag_on_it(aws, repo):
    digest = push(aws, repo, "a", "v1", "v1.0")
    other = push(aws, repo, "b", "v2")
    ecr = driver()
    assert isinstance(ecr, DeletesManifests)

    ecr.delete_manifest(Repository(HOST, repo), digest)

    assert digests(aws, repo) == {"v2": other}
    with pytest.raises(NotFound):
        ecr.delete_manifest(Repository(HOST, repo), digest)


def test_list_repositories_with_a_prefix(aws):
    prefix = f"team-{uuid.uuid4().hex[:6]}"
    for name in (f"{prefix}/api", f"{prefix}/web", f"other-{prefix}"):
        aws.create_repository(repositoryName=name)
    ecr = driver()
    assert isinstance(ecr, ListsRepositories)

    assert list(ecr.list_repositories(prefix + "/")) == [f"{prefix}/api", f"{prefix}/web"]
    assert f"other-{prefix}" in list(ecr.list_repositories())


def test_missing_repository_is_not_found_with_the_hint(aws, capsys):
    with pytest.raises(NotFound) as raised:
        driver().list_tags(Repository(HOST, "never-created"))
    assert "RepositoryNotFoundException" in str(raised.value)
    assert "ECR repositories must already exist" in (raised.value.hint or "")

    result = run_cli(capsys, "tags", f"{HOST}/never-created")
    assert result.code == 1
    assert "ECR repositories must already exist" in result.err


def test_no_credentials_exit_3_with_a_hint(aws, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    # No instance metadata service here: do not wait for it.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(CredentialError):
        driver().list_tags(Repository(HOST, "any"))
    result = run_cli(capsys, "tags", f"{HOST}/any")
    assert result.code == 3
    assert "AWS credentials" in result.err and "AWS_ACCESS_KEY_ID" in result.err


def test_unknown_aws_profile_is_a_credential_error(aws, capsys, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    result = run_cli(capsys, "tags", f"{HOST}/any")
    assert result.code == 3
    assert "no-such-profile" in result.err and "AWS_PROFILE" in result.err


def test_forced_ecr_on_another_host_is_bad_input(capsys, docker_config):
    result = run_cli(capsys, "tags", "127.0.0.1:1/app", "--repo-container-registry", "ecr")
    assert result.code == 2
    assert "not an AWS ECR registry host" in result.err


def test_cleanup_end_to_end_through_the_cli(aws, repo, capsys):
    """`--keep-last` ranks by ECR's push times; no image config is read (moto serves none)."""
    kept_main = push(aws, repo, "main", "main", minute=0)
    prs = {f"pr-{i}": push(aws, repo, f"pr-{i}", f"pr-{i}", minute=i + 1) for i in range(5)}
    # An older PR tag on the image `main` is on: untagging it must keep the image.
    push(aws, repo, "main", "pr-old")
    before = digests(aws, repo)
    args = ("cleanup", f"{HOST}/{repo}", "--delete-tag", "pr-.*", "--keep-last", "2", "--json")

    dry = run_cli(capsys, *args, "--dry-run")
    assert dry.code == 0, dry.err
    planned = json.loads(dry.out)
    assert sorted(e["tag"] for e in planned["deleted"]) == ["pr-0", "pr-1", "pr-2", "pr-old"]
    assert digests(aws, repo) == before  # a dry run deletes nothing

    real = run_cli(capsys, *args)
    assert real.code == 0, real.err
    done = json.loads(real.out)
    assert sorted(e["tag"] for e in done["deleted"]) == ["pr-0", "pr-1", "pr-2", "pr-old"]
    assert digests(aws, repo) == {"main": kept_main, "pr-3": prs["pr-3"], "pr-4": prs["pr-4"]}
    remaining = {i["imageDigest"] for i in aws.describe_images(repositoryName=repo)["imageDetails"]}
    assert remaining == {kept_main, prs["pr-3"], prs["pr-4"]}


def test_a_cleanup_of_250_tags_makes_three_batch_calls(aws, repo, capsys, monkeypatch):
    """The engine hands every tag to one bulk delete; the ECR driver splits it into calls of
    100 ids, the API's limit."""
    body = oci_image(f"{repo}/main").manifest_bytes.decode()
    tags = ["main", *(f"pr-{i}" for i in range(250))]
    with ThreadPoolExecutor(8) as pool:  # seeding one by one would take most of the test
        list(
            pool.map(
                lambda tag: aws.put_image(repositoryName=repo, imageManifest=body, imageTag=tag),
                tags,
            )
        )
    main = digests(aws, repo)["main"]
    sizes: list[int] = []
    real_client = ecr_driver.ecr_client

    def counting_client(region: str, fips: bool):
        client = real_client(region, fips)
        real = client.batch_delete_image

        def batch_delete_image(**kwargs):
            sizes.append(len(kwargs["imageIds"]))
            return real(**kwargs)

        client.batch_delete_image = batch_delete_image
        return client

    monkeypatch.setattr(ecr_driver, "ecr_client", counting_client)
    result = run_cli(capsys, "cleanup", f"{HOST}/{repo}", "--delete-tag", "pr-.*", "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["summary"]["deleted"] == 250
    assert sizes == [100, 100, 50]
    assert digests(aws, repo) == {"main": main}


def test_registries_reports_ecr_as_native(capsys):
    table = json.loads(run_cli(capsys, "registries", "--json").out)
    ecr = next(row for row in table if row["name"] == "ecr")
    assert ecr["native"] is True and ecr["status"] == "native"
    detected = json.loads(run_cli(capsys, "registries", "--json", "--detect", HOST).out)
    assert detected["name"] == "ecr" and detected["status"] == "native"


# -- registry credentials from the AWS API (for pull, copy and inspect) ---------------------


def test_the_ecr_login_gives_registry_credentials_from_the_aws_api(aws):
    found = EcrLogin().resolve(HOST)
    assert found.username == "AWS" and found.password
    assert "ecr:GetAuthorizationToken" in found.source
    assert found.password not in repr(found)
    assert EcrLogin().resolve("registry.example.com").is_anonymous


def test_the_ecr_login_is_anonymous_without_aws_credentials(aws, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert EcrLogin().resolve(HOST).is_anonymous


def test_an_ecr_host_uses_the_docker_config_first_then_the_aws_login(aws, docker_config):
    transport = client_for(HOST, RegistryOptions()).transport
    assert transport.credential.username == "AWS"
    assert "AWS API" in transport.credential.source

    auth = base64.b64encode(b"AWS:from-the-docker-config").decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {HOST: {"auth": auth}}}))
    transport = client_for(HOST, RegistryOptions()).transport
    assert transport.credential.password == "from-the-docker-config"
