"""The dry run says how each tag would go (`[delete by digest]` or `[untag]`) as the real run
does it: the plan asks the driver (`deletes_by_digest`). quay, harbor and dockerhub are
checked by `check_cleanup_by_push_time` (tests/native_support.py); gitlab and the
by-digest default driver here, as the table and JSON show it."""

from __future__ import annotations

import json

from tests.bed import oci_image, push_image_raw
from tests.cli import run_cli
from tests.test_gitlab_registry import cleanup as gitlab_cleanup
from tests.test_gitlab_registry import gitlab, project  # noqa: F401 (the fixture)


def _means(output: str) -> dict[str, str]:
    return {e["tag"]: e["means"] for e in json.loads(output)["deleted"]}


def test_gitlab_deletes_by_tag_and_its_dry_run_says_untag(capsys, gitlab, unique_repo):  # noqa: F811
    path = project(gitlab, unique_repo)
    push_image_raw(gitlab.registry.url, path, oci_image(f"{unique_repo}-alone"), "ci-1")
    push_image_raw(gitlab.registry.url, path, oci_image(f"{unique_repo}-kept"), "main")

    dry = gitlab_cleanup(capsys, gitlab, path, "--delete-tag", "ci-.*", "--dry-run")
    assert dry.code == 0, dry.err
    assert _means(dry.out) == {"ci-1": "untag"}
    table = run_cli(
        capsys, "cleanup", f"{gitlab.registry.host}/{path}", "--repo-container-registry",
        "gitlab", "--repo-gitlab-url", gitlab.base, "--repo-gitlab-token",
        next(iter(gitlab.tokens)), "--delete-tag", "ci-.*", "--dry-run",
    )  # fmt: skip
    assert "[untag]" in table.out and "[delete by digest]" not in table.out

    real = gitlab_cleanup(capsys, gitlab, path, "--delete-tag", "ci-.*")
    assert real.code == 0, real.err
    assert _means(real.out) == {"ci-1": "untag"}


def test_the_default_driver_deletes_by_digest_and_its_dry_run_says_so(
    capsys, docker_config, registry_plain, unique_repo
):
    push_image_raw(registry_plain.url, unique_repo, oci_image(f"{unique_repo}-alone"), "ci-1")
    image = oci_image(f"{unique_repo}-shared")
    for tag in ("ci-2", "main"):
        push_image_raw(registry_plain.url, unique_repo, image, tag)
    target = f"{registry_plain.host}/{unique_repo}"
    args = ("cleanup", target, "--delete-tag", "ci-.*", "--json")

    dry = run_cli(capsys, *args, "--dry-run")
    assert dry.code == 0, dry.err
    assert _means(dry.out) == {"ci-1": "delete by digest", "ci-2": "untag"}

    real = run_cli(capsys, *args)
    assert real.code == 0, real.err
    assert _means(real.out) == {"ci-1": "delete by digest", "ci-2": "untag"}
