"""The safety invariants again, as a smaller property over a real registry (distribution 2.8):
random repositories with shared digests, an index whose child may carry a tag, cosign
signature tags and controlled image times; random policies. The state afterwards is read
with plain requests, not with the code under test."""

from __future__ import annotations

import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.cleanup.policy import build_policy
from drivers.cleanup.run import cleanup_repository
from drivers.errors import InvalidInput
from drivers.reference import parse_repository
from drivers.registries import RegistryOptions, driver_for
from tests.bed import oci_image, oci_index, push_image_raw
from tests.test_cleanup_registry import exists, tags_of

NOW = dt.datetime.now(dt.timezone.utc)
AGES = [dt.timedelta(hours=1), dt.timedelta(days=3), dt.timedelta(days=3), dt.timedelta(days=40)]
NAMES = ["latest", "v1.0.0", "v2.0.0", "main", "pr-1", "pr-2", "old"]


@st.composite
def repositories(draw):
    images = [
        oci_image(f"prop-{i}", layers=1, layer_size=16, created=NOW - draw(st.sampled_from(AGES)))
        for i in range(draw(st.integers(1, 3)))
    ]
    index = oci_index("prop-index", ["linux/amd64", "linux/arm64"], layer_size=16)
    choices = [*images, index, index.children[0]]
    tags = {
        name: draw(st.sampled_from(choices))
        for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    }
    signed = draw(st.lists(st.sampled_from(sorted({i.digest for i in tags.values()})), max_size=2))
    flags = {
        "keep_tags": draw(st.sampled_from([[], [r"^v\d.*"], ["main"]])),
        "keep_last": draw(st.none() | st.integers(1, 2)),
        "keep_newer_than": draw(st.none() | st.just("2d")),
        "delete_tags": draw(st.sampled_from([[], ["pr-.*|old"], [".*"]])),
        "with_referrers": draw(st.booleans()),
    }
    return tags, signed, flags


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(repositories())
def test_invariants_on_a_real_registry(docker_config, registry_plain, example):
    tags, signed, flags = example
    try:
        policy = build_policy(**flags)
    except InvalidInput:
        return  # a policy that keeps nothing is refused before any registry work
    r, path = registry_plain, f"prop/{uuid.uuid4().hex[:10]}"
    for tag, image in tags.items():
        push_image_raw(r.url, path, image, tag)
    for digest in signed:
        signature = oci_image(f"sig-{digest}", layers=1, layer_size=16)
        push_image_raw(r.url, path, signature, f"sha256-{digest[7:]}.sig")
    before = tags_of(r, path)

    driver = driver_for(r.host, RegistryOptions())
    outcome = cleanup_repository(driver, parse_repository(f"{r.host}/{path}"), policy, jobs=4)
    after = tags_of(r, path)

    assert not outcome.failed and not outcome.skipped
    kept = {e.tag for e in outcome.kept}
    deleted = {e.tag for e in outcome.deleted}
    assert kept | deleted == set(before) and not kept & deleted
    for tag in kept:  # 1. same digest as before
        assert after.get(tag) == before[tag], tag
    for tag in deleted:
        assert tag not in after
    images = {i.digest: i for i in tags.values()}
    for tag in kept:  # 2. what a kept tag needs still exists
        image = images.get(before[tag])
        for child in image.children if image else ():
            assert exists(r, path, child.digest), f"child of {tag} is gone"
        assert exists(r, path, before[tag])
        if before[tag] in signed:
            assert f"sha256-{before[tag][7:]}.sig" in after, f"signature of {tag} is gone"
    if policy.with_referrers:  # 5. no signature outlives its image
        alive = set(after.values()) | {
            c.digest for d in after.values() if d in images for c in images[d].children
        }
        for digest in signed:
            if f"sha256-{digest[7:]}.sig" in after:
                assert digest in alive or not any(d == digest for d in before.values())
