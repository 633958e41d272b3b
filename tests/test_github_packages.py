"""The `github` driver: GitHub Packages through a fake Packages API (tests/github_support.py)
in front of a real docker-registry that refuses DELETE from the client, so every deletion
a test sees was made through the Packages API."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pytest

from drivers.reference import parse_repository
from drivers.registries import RegistryOptions, driver_for
from tests.bed import Image, oci_image, oci_index, push_image_raw
from tests.bed.images import _index_of
from tests.bed.registry import RunningRegistry
from tests.cli import run_cli
from tests.github_support import FULL_SCOPES, FakeGhcr, serve

TOKEN = f"canary-ghp-{uuid.uuid4().hex}"
READ_TOKEN = f"canary-ghp-read-{uuid.uuid4().hex}"
OLD = dt.timedelta(days=30)


@pytest.fixture
def ghcr(monkeypatch, docker_config, registry_plain: RunningRegistry) -> Iterator[FakeGhcr]:
    tokens = {TOKEN: FULL_SCOPES, READ_TOKEN: "read:packages"}
    fake = FakeGhcr(registry_plain.url, tokens)
    with serve(fake):
        for name in ("PORTSIDE_REPO_GITHUB_TOKEN", "PORTSIDE_REPO_CONTAINER_REGISTRY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("PORTSIDE_REPO_GITHUB_PAUSE", "0")  # the pacing has its own tests
        yield fake


def package(fake: FakeGhcr, kind: str = "User", name: str = "app") -> str:
    owner = f"o{uuid.uuid4().hex[:8]}"
    fake.owners[owner] = kind
    return f"{owner}/{name}"


def push(fake: FakeGhcr, path: str, image: Image, tag: str | None = None, age=OLD) -> str:
    digest = push_image_raw(fake.url, path, image, tag)
    for each in image.walk():
        fake.age(path, each.digest, age)
    return digest


def referrer_of(seed: str, subject: Image) -> Image:
    """An OCI manifest whose `subject` is `subject` (cosign and buildx push these)."""
    base = oci_image(seed)
    doc = json.loads(base.manifest_bytes)
    doc["subject"] = subject.descriptor()
    body = json.dumps(doc).encode()
    return Image(base.media_type, body, config=base.config, layers=base.layers)


def cleanup(capsys, fake: FakeGhcr, path: str, *args: str):
    host = fake.url.removeprefix("http://")
    return run_cli(
        capsys, "cleanup", f"{host}/{path}", "--repo-container-registry", "github",
        "--delete-tag", "ci-.*", "--json", *args,
    )  # fmt: skip


def test_lists_every_page_with_digests_and_push_times(ghcr):
    path = package(ghcr)
    ages = {f"v{i}": dt.timedelta(days=i + 1) for i in range(7)}
    for tag, age in ages.items():
        push(ghcr, path, oci_image(f"{path}-{tag}"), tag, age)
    host = ghcr.url.removeprefix("http://")
    driver = driver_for(host, RegistryOptions(implementation="github"))
    assert driver.name == "github"
    ghcr.calls.clear()

    listed = driver.list_tags(parse_repository(f"{host}/{path}"))

    assert {t.tag: t.digest for t in listed} == ghcr.tags_of(path)
    now = dt.datetime.now(dt.timezone.utc)
    for info in listed:
        assert abs((now - info.created) - ages[info.tag]) < dt.timedelta(minutes=1)
    pages = ghcr.api_calls("GET")[1:]  # after the owner lookup
    assert len(pages) == 3  # 7 versions, 3 a page: the Link header was followed
    assert "per_page=100" in pages[0]
    assert not [p for p in ghcr.calls if p[1].startswith("/v2/")]  # no manifest per tag


def test_shared_digest_untags_and_the_kept_tag_keeps_its_digest(capsys, ghcr):
    path = package(ghcr)
    shared = push(ghcr, path, oci_image(f"{path}-a"), "ci-1")
    push(ghcr, path, oci_image(f"{path}-a"), "release")
    alone = push(ghcr, path, oci_image(f"{path}-b"), "ci-2")

    result = cleanup(capsys, ghcr, path)

    assert result.code == 0, result.text
    assert ghcr.tags_of(path) == {"release": shared}
    assert ghcr.digests(path) == {shared}  # the tiny manifest's version went too
    assert alone not in ghcr.digests(path)
    deletes = ghcr.api_calls("DELETE")
    assert len(deletes) == 2 and all("/versions/" in d for d in deletes)


def test_multi_arch_index_takes_its_own_children_and_spares_shared_ones(capsys, ghcr):
    path = package(ghcr, "Organization")
    amd, arm, riscv = (
        oci_image(f"{path}-{p}", platform=f"linux/{p}") for p in ("amd64", "arm64", "riscv64")
    )
    old = _index_of((amd, arm))
    kept = _index_of((arm, riscv))
    push(ghcr, path, old, "ci-1")
    push(ghcr, path, kept, "release")

    result = cleanup(capsys, ghcr, path)

    assert result.code == 0, result.text
    assert ghcr.digests(path) == {kept.digest, arm.digest, riscv.digest}
    assert all(d.startswith(f"/orgs/{path.split('/')[0]}/") for d in ghcr.api_calls("DELETE"))


def test_signatures_and_attestations_go_with_their_image_and_stay_with_kept_ones(capsys, ghcr):
    path = package(ghcr)
    doomed, kept = oci_index(f"{path}-old"), oci_image(f"{path}-new")
    push(ghcr, path, doomed, "ci-1")
    push(ghcr, path, kept, "release")
    for image in (doomed, kept):
        push(ghcr, path, oci_image(f"{image.digest}-sig"), f"sha256-{image.digest[7:]}.sig")
        push(ghcr, path, referrer_of(f"{image.digest}-att", image))
    kept_sig = ghcr.tags_of(path)[f"sha256-{kept.digest[7:]}.sig"]
    kept_att = referrer_of(f"{kept.digest}-att", kept).digest

    dry = cleanup(capsys, ghcr, path, "--dry-run")
    assert dry.code == 0, dry.text
    planned = json.loads(dry.out)["deleted"]
    assert len(planned) == 3  # the index, its signature tag, its subject referrer
    assert not ghcr.api_calls("DELETE")

    result = cleanup(capsys, ghcr, path)

    assert result.code == 0, result.text
    assert ghcr.digests(path) == {kept.digest, kept_sig, kept_att}


def test_a_refused_version_fails_with_githubs_message_and_the_rest_goes(capsys, ghcr):
    path = package(ghcr)
    popular = push(ghcr, path, oci_image(f"{path}-a"), "ci-1")
    other = push(ghcr, path, oci_image(f"{path}-b"), "ci-2")
    message = "Publicly visible package versions with more than 5000 downloads cannot be deleted."
    ghcr.refused[popular] = message

    result = cleanup(capsys, ghcr, path)

    assert result.code == 1, result.text
    report = json.loads(result.out)
    assert [f["tag"] for f in report["failed"]] == ["ci-1"]
    assert "5000 downloads" in report["failed"][0]["reason"]
    assert ghcr.digests(path) == {popular} and other not in ghcr.digests(path)


def test_a_secondary_rate_limit_mid_run_is_waited_out(capsys, ghcr, sleeps):
    path = package(ghcr)
    for i in range(3):
        push(ghcr, path, oci_image(f"{path}-{i}"), f"ci-{i}")
    ghcr.throttle_deletes = 2

    result = cleanup(capsys, ghcr, path)

    assert result.code == 0, result.text
    assert ghcr.digests(path) == set()
    assert sleeps.count(1.0) == 2  # the Retry-After of each 403


def test_a_nested_package_name_is_percent_encoded(capsys, ghcr):
    path = package(ghcr, "Organization", name="tools/build")
    push(ghcr, path, oci_image(f"{path}-a"), "ci-1")
    kept = push(ghcr, path, oci_image(f"{path}-b"), "main")

    result = cleanup(capsys, ghcr, path)

    assert result.code == 0, result.text
    assert ghcr.digests(path) == {kept}
    assert "/packages/container/tools%2Fbuild/versions/" in ghcr.api_calls("DELETE")[0]


def test_a_token_without_delete_packages_is_exit_3_before_deleting(capsys, monkeypatch, ghcr):
    monkeypatch.setenv("PORTSIDE_REPO_GITHUB_TOKEN", READ_TOKEN)  # wins over GITHUB_TOKEN
    path = package(ghcr)
    digest = push(ghcr, path, oci_image(f"{path}-a"), "ci-1")

    result = cleanup(capsys, ghcr, path)

    assert result.code == 3, result.text
    assert "delete:packages" in result.err and "PORTSIDE_REPO_GITHUB_TOKEN" in result.err
    assert ghcr.digests(path) == {digest} and not ghcr.api_calls("DELETE")
    assert READ_TOKEN not in result.text and TOKEN not in result.text


def test_no_token_says_how_to_give_one(capsys, monkeypatch, ghcr):
    monkeypatch.delenv("GITHUB_TOKEN")
    path = package(ghcr)
    push(ghcr, path, oci_image(f"{path}-a"), "ci-1")

    result = cleanup(capsys, ghcr, path)

    assert result.code == 3, result.text
    assert "GITHUB_TOKEN" in result.err


# -- untagged versions (delete.untagged, --delete-untagged) ---------------------------------


def untagged_cleanup(capsys, fake: FakeGhcr, path: str, *args: str):
    host = fake.url.removeprefix("http://")
    return run_cli(
        capsys, "cleanup", f"{host}/{path}", "--repo-container-registry", "github",
        "--delete-untagged", "--json", *args,
    )  # fmt: skip


def test_untagged_leftovers_go_and_what_stays_uses_is_kept(capsys, ghcr):
    path = package(ghcr)  # a user-owned package
    amd, arm = (oci_image(f"{path}-{p}", platform=f"linux/{p}") for p in ("amd64", "arm64"))
    kept_index = _index_of((amd, arm))
    push(ghcr, path, kept_index, "release")
    kept_att = referrer_of(f"{path}-att", kept_index)
    push(ghcr, path, kept_att)  # untagged, its subject is the kept index
    old = push(ghcr, path, oci_image(f"{path}-old"))  # an untagged leftover
    stale_index = _index_of((oci_image(f"{path}-s1"), arm))  # an untagged old index
    push(ghcr, path, stale_index)
    fresh = push(ghcr, path, oci_image(f"{path}-fresh"), age=dt.timedelta(hours=1))
    ci = push(ghcr, path, oci_image(f"{path}-ci"), "ci-1")

    rules = ("--keep-tag", "release", "--keep-newer-than", "7d")
    dry = untagged_cleanup(capsys, ghcr, path, *rules, "--dry-run")

    assert dry.code == 0, dry.text
    report = json.loads(dry.out)
    planned = {e["digest"] for e in report["deleted"]}
    stale_child = stale_index.children[0].digest
    assert planned == {old, stale_index.digest, stale_child, ci}
    untagged = [e for e in report["deleted"] if e["digest"] != ci]
    assert all(e["tag"] is None and e["means"] == "delete by digest" for e in untagged)
    kept = {e["digest"]: e["reason"] for e in report["kept"] if e["tag"] is None}
    assert kept == {fresh: "untagged, newer than 7d"}
    assert not ghcr.api_calls("DELETE")

    result = untagged_cleanup(capsys, ghcr, path, *rules)

    assert result.code == 0, result.text
    assert ghcr.digests(path) == {kept_index.digest, amd.digest, arm.digest, kept_att.digest, fresh}
    assert ghcr.tags_of(path) == {"release": kept_index.digest}
    done = json.loads(result.out)
    assert {e["digest"] for e in done["deleted"]} == planned and not done["failed"]


def test_only_untagged_asked_touches_no_tag(capsys, ghcr):
    path = package(ghcr)
    tagged = push(ghcr, path, oci_image(f"{path}-a"), "ci-1")
    loose = push(ghcr, path, oci_image(f"{path}-b"))

    result = untagged_cleanup(capsys, ghcr, path)

    assert result.code == 0, result.text
    assert ghcr.digests(path) == {tagged}
    assert [e["digest"] for e in json.loads(result.out)["deleted"]] == [loose]


def test_untagged_children_of_a_deleted_index_go_after_it(capsys, ghcr):
    path = package(ghcr, "Organization")
    index = oci_index(f"{path}-old")
    push(ghcr, path, index, "ci-1")
    sig = push(ghcr, path, referrer_of(f"{path}-sig", index))

    dry = cleanup(capsys, ghcr, path, "--delete-untagged", "--dry-run")
    planned = {e["digest"] for e in json.loads(dry.out)["deleted"]}
    assert planned == {index.digest, sig, *(c.digest for c in index.children)}, dry.out

    result = cleanup(capsys, ghcr, path, "--delete-untagged")

    assert result.code == 0, result.text
    assert ghcr.digests(path) == set()
    report = json.loads(result.out)
    assert not report["failed"] and not report["skipped"]


def test_a_tag_pushed_on_an_untagged_version_during_the_run_keeps_it(capsys, ghcr):
    path = package(ghcr)
    image = oci_image(f"{path}-loose")
    loose = push(ghcr, path, image)
    other = push(ghcr, path, oci_image(f"{path}-other"))

    def tag_it(method: str, target: str) -> None:
        # The run reads its first manifest: the one listing is done, planning goes on.
        if method == "GET" and "/manifests/sha256:" in target and ghcr.on_request:
            ghcr.on_request.clear()
            push_image_raw(ghcr.url, path, image, "hotfix")

    ghcr.on_request.append(tag_it)
    result = untagged_cleanup(capsys, ghcr, path)

    assert result.code == 0, result.text
    assert ghcr.tags_of(path) == {"hotfix": loose}
    assert ghcr.digests(path) == {loose} and other not in ghcr.digests(path)
    report = json.loads(result.out)
    assert [e["digest"] for e in report["deleted"]] == [other]
    kept = {(e["tag"], e["digest"]): e["reason"] for e in report["kept"]}
    assert kept == {
        ("hotfix", loose): "pushed after planning",
        (None, loose): "a tag was pushed onto it after planning; kept",
    }


def test_delete_untagged_on_a_registry_that_cannot_list_them_is_exit_2(
    capsys, registry_plain: RunningRegistry
):
    host = registry_plain.url.removeprefix("http://")
    path = f"u{uuid.uuid4().hex[:8]}/app"
    digest = push_image_raw(registry_plain.url, path, oci_image(path), "ci-1")

    result = run_cli(capsys, "cleanup", f"{host}/{path}", "--delete-untagged", "--dry-run")

    assert result.code == 2, result.text
    assert "cannot list untagged manifests" in result.err
    assert "--delete-untagged" in result.err
    del digest


def test_the_policy_file_key_and_the_env_twin(capsys, monkeypatch, tmp_path, ghcr):
    path = package(ghcr)
    tagged = push(ghcr, path, oci_image(f"{path}-a"), "v1")
    push(ghcr, path, oci_image(f"{path}-b"))
    policy = tmp_path / "policy.yml"
    policy.write_text("keep:\n  - tags: 'v.*'\ndelete:\n  untagged: true\n")
    host = ghcr.url.removeprefix("http://")

    shown = run_cli(capsys, "cleanup", "--policy", str(policy), "--print-policy")
    assert "untagged: true" in shown.out

    result = run_cli(
        capsys, "cleanup", f"{host}/{path}", "--repo-container-registry", "github",
        "--policy", str(policy),
    )  # fmt: skip
    assert result.code == 0, result.text
    assert ghcr.digests(path) == {tagged}

    loose = push(ghcr, path, oci_image(f"{path}-c"))
    monkeypatch.setenv("PORTSIDE_DELETE_UNTAGGED", "1")
    again = run_cli(
        capsys, "cleanup", f"{host}/{path}", "--repo-container-registry", "github",
        "--keep-tag", "v.*", "--json",
    )  # fmt: skip
    assert again.code == 0, again.text
    assert [e["digest"] for e in json.loads(again.out)["deleted"]] == [loose]


def test_all_repositories_cleans_every_container_package_of_the_owner(capsys, ghcr):
    first = package(ghcr, "Organization", name="app")
    owner = first.split("/")[0]
    packages = [first, f"{owner}/tools/build", f"{owner}/web", f"{owner}/api"]
    kept = {}
    for path in packages:
        push(ghcr, path, oci_image(f"{path}-old"), "ci-1")
        kept[path] = push(ghcr, path, oci_image(f"{path}-new"), "main")
    elsewhere = package(ghcr)
    other = push(ghcr, elsewhere, oci_image(f"{elsewhere}-old"), "ci-1")
    host = ghcr.url.removeprefix("http://")

    result = run_cli(
        capsys, "cleanup", f"{host}/{owner}", "--all-repositories",
        "--repo-container-registry", "github", "--delete-tag", "ci-.*", "--json",
    )  # fmt: skip

    assert result.code == 0, result.text
    for path in packages:
        assert ghcr.digests(path) == {kept[path]}, path
    assert ghcr.digests(elsewhere) == {other}  # another owner's package is not touched
    report = json.loads(result.out)
    assert sorted(e["repository"] for e in report["deleted"]) == sorted(
        f"{host}/{p}" for p in packages
    )
    listings = [c for c in ghcr.api_calls("GET") if "/packages?" in c]
    assert len(listings) == 2  # 4 packages, 3 a page: the Link header was followed
    assert all(f"/orgs/{owner}/packages?" in c and "package_type=container" in c for c in listings)


def test_all_repositories_needs_the_owner(capsys, ghcr):
    host = ghcr.url.removeprefix("http://")

    result = run_cli(
        capsys, "cleanup", host, "--all-repositories", "--repo-container-registry", "github",
        "--keep-last", "3",
    )  # fmt: skip

    assert result.code == 2, result.text
    assert "name the owner" in result.err
