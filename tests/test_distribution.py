"""The distribution client and the `default` driver against real docker-registry processes."""

from __future__ import annotations

import os

import pytest

from drivers.auth.credentials import Credential
from drivers.distribution import DistributionClient
from drivers.errors import NotARegistry, NotFound, OCIError, RegistryError, Unsupported
from drivers.http.transport import Transport
from drivers.manifest import sha256_digest
from drivers.reference import Repository, parse_reference
from drivers.registries.default_driver import DefaultDriver, refuses_delete_by_tag
from tests.bed import CANARY_PASSWORD, CANARY_USER, oci_index, push_image, schema2_image
from tests.bed.skopeo import skopeo_inspect_digest


def _client(registry) -> DistributionClient:
    cred = None
    if registry.auth != "none":
        cred = Credential(CANARY_USER, CANARY_PASSWORD, source="test")
    return DistributionClient(Transport(registry.host, cred))


@pytest.fixture(params=["registry_plain", "registry_token"])
def registry(request):
    return request.getfixturevalue(request.param)


def test_chunked_upload_and_streamed_read(registry, unique_repo):
    client = _client(registry)
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = sha256_digest(data)
    assert not client.blob_exists(unique_repo, digest)
    client.upload_blob(unique_repo, data, digest, chunk_size=1024 * 1024)
    assert client.blob_exists(unique_repo, digest)
    assert client.read_blob(unique_repo, digest) == data


def test_cross_repository_mount(registry, unique_repo):
    client = _client(registry)
    data = os.urandom(4096)
    digest = sha256_digest(data)
    client.upload_blob(unique_repo, data, digest)
    target = unique_repo + "-mounted"
    client.upload_blob(target, data, digest, mount_from=unique_repo)
    assert client.blob_exists(target, digest)


def test_manifest_put_get_head_match_skopeo(registry, unique_repo):
    client = _client(registry)
    index = oci_index(unique_repo, ["linux/amd64", "linux/arm64"])
    digest = push_image(client, unique_repo, index, "multi")
    manifest = client.get_manifest(unique_repo, "multi")
    assert manifest.digest == digest == index.digest
    assert manifest.is_index and len(manifest.children) == 2
    head = client.head_manifest(unique_repo, "multi")
    assert (head.digest, head.media_type) == (digest, manifest.media_type)
    creds = None if registry.auth == "none" else (CANARY_USER, CANARY_PASSWORD)
    assert skopeo_inspect_digest(f"{registry.host}/{unique_repo}:multi", creds) == digest


def test_missing_manifest_is_not_found(registry, unique_repo):
    with pytest.raises(NotFound):
        _client(registry).get_manifest(unique_repo, "nope")


def test_distribution_2_8_refuses_oci_delete_by_tag_as_the_default_driver_reads_it(
    registry_plain, unique_repo
):
    """The client reports the answer as it is (400 DIGEST_INVALID); that it means "DELETE by
    tag is not accepted here" is the default driver's reading, in its fallback chain."""
    client = _client(registry_plain)
    push_image(client, unique_repo, schema2_image(unique_repo), "v1")
    with pytest.raises(RegistryError) as err:
        client.delete_tag(unique_repo, "v1")
    assert err.value.status == 400 and err.value.codes == {"DIGEST_INVALID"}
    assert not isinstance(err.value, Unsupported), "the generic client maps no quirk"
    assert refuses_delete_by_tag(err.value)
    assert client.list_tags(unique_repo) == ["v1"], "nothing was deleted"


def test_only_refusals_of_delete_by_tag_move_the_default_driver_on():
    refusal = RegistryError("x", status=400)
    assert refuses_delete_by_tag(Unsupported("x", status=405))
    refusal.errors = [OCIError("DIGEST_INVALID")]
    assert refuses_delete_by_tag(refusal)
    other = RegistryError("x", status=400, errors=[OCIError("NAME_INVALID")])
    assert not refuses_delete_by_tag(other)
    assert not refuses_delete_by_tag(RegistryError("x", status=500))
    assert not refuses_delete_by_tag(NotARegistry("an HTML page", status=400))


def test_default_driver_untags_without_touching_a_tag_on_the_same_digest(
    registry_plain, unique_repo
):
    client = _client(registry_plain)
    image = schema2_image(unique_repo)
    push_image(client, unique_repo, image, "keep")
    push_image(client, unique_repo, image, "drop")
    driver = DefaultDriver(client)
    repository = Repository(registry_plain.host, unique_repo)
    driver.delete_tag(repository, "drop")
    assert [t.tag for t in driver.list_tags(repository)] == ["keep"]
    resolved = driver.resolve(parse_reference(f"{registry_plain.host}/{unique_repo}:keep"))
    assert resolved.digest == image.digest


def test_delete_manifest_removes_every_tag_on_it(registry_token, unique_repo):
    client = _client(registry_token)
    image = schema2_image(unique_repo)
    push_image(client, unique_repo, image, "a")
    push_image(client, unique_repo, image, "b")
    client.delete_manifest(unique_repo, image.digest)
    assert client.list_tags(unique_repo) == []


def test_delete_disabled_is_unsupported(registry_nodelete, unique_repo):
    client = _client(registry_nodelete)
    image = schema2_image(unique_repo)
    push_image(client, unique_repo, image, "v1")
    with pytest.raises(Unsupported) as err:
        client.delete_manifest(unique_repo, image.digest)
    assert err.value.status == 405
    assert client.list_tags(unique_repo) == ["v1"]


def test_catalog_needs_and_gets_the_catalog_scope(registry_token, unique_repo, token_server):
    client = _client(registry_token)
    push_image(client, unique_repo, schema2_image(unique_repo), "v1")
    token_server.clear_requests()
    driver = DefaultDriver(client)
    assert unique_repo in list(driver.list_repositories("test/"))
    assert any("registry:catalog:*" in r.scopes for r in token_server.requests_seen)


def test_tokens_use_the_smallest_scope(registry_token, unique_repo, token_server):
    client = _client(registry_token)
    push_image(client, unique_repo, schema2_image(unique_repo), "v1")
    token_server.clear_requests()
    _client(registry_token).list_tags(unique_repo)
    scopes = [s for r in token_server.requests_seen for s in r.scopes]
    assert scopes == [f"repository:{unique_repo}:pull"]


def test_tag_listing_paginates_on_a_real_registry(registry_plain, unique_repo):
    client = _client(registry_plain)
    image = schema2_image(unique_repo)
    tags = [f"t{i:02d}" for i in range(7)]
    for tag in tags:
        push_image(client, unique_repo, image, tag)
    assert sorted(client.list_tags(unique_repo, page_size=3)) == tags
