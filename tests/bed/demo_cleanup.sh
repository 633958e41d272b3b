#!/usr/bin/env bash
# `make demo` part for cleanup, sourced by tests/bed/demo.sh. It receives host, user,
# password, DOCKER_CONFIG (logged in), PORTSIDE, PY and a scratch dir `work`.
set -euo pipefail

step "Seed $host/demo/cleanup: releases, CI tags of various ages, a shared digest, a signature"
printf '$ %s\n' "$PY - <<'SEED' (push test images with chosen 'created' times)"
$PY - "$host/demo/cleanup" <<'SEED'
import datetime as dt
import sys

from drivers.reference import parse_repository
from drivers.registries import RegistryOptions, client_for
from tests.bed.images import oci_image, oci_index, push_image

repository = parse_repository(sys.argv[1])
client = client_for(repository.registry, RegistryOptions())
now = dt.datetime.now(dt.timezone.utc)
ages = {"v1.0.0": 60, "v1.1.0": 20, "pr-101": 30, "pr-102": 12, "pr-103": 9, "main": 1}
for tag, days in ages.items():
    image = oci_image(f"demo-cleanup-{tag}", created=now - dt.timedelta(days=days))
    push_image(client, repository.path, image, tag)
    print(f"pushed {repository}:{tag}  (created {days} days ago)")
shared = oci_image("demo-cleanup-v1.1.0", created=now - dt.timedelta(days=20))
push_image(client, repository.path, shared, "ci-4711")
print(f"pushed {repository}:ci-4711  (same digest as v1.1.0)")
signed = oci_image("demo-cleanup-pr-101", created=now - dt.timedelta(days=30))
signature = oci_image("demo-cleanup-signature", layers=1, layer_size=16)
push_image(client, repository.path, signature, f"sha256-{signed.digest[7:]}.sig")
print(f"pushed {repository}:sha256-{signed.digest[7:19]}….sig  (cosign signature of pr-101)")
push_image(client, repository.path, oci_index("demo-cleanup-index"), "latest")
print(f"pushed {repository}:latest  (a two-platform index)")
SEED
show $PORTSIDE tags "$host/demo/cleanup"

step "A policy file: keep releases, the 2 newest of the rest, anything newer than 10 days"
cat >"$work/cleanup-policy.yml" <<'POLICY'
keep:
  - tags: '^v\d+\.\d+\.\d+$'   # every release
  - tags: '.*'
    last: 2                    # the 2 newest tags
  - newer_than: 10d
delete:
  tags: '.*'
POLICY
show cat "$work/cleanup-policy.yml"
show $PORTSIDE cleanup --policy "$work/cleanup-policy.yml" --print-policy

step "Dry run: the plan (tag, digest, time, decision, rule or reason); nothing is deleted"
show $PORTSIDE cleanup "$host/demo/cleanup" --policy "$work/cleanup-policy.yml" --dry-run

step "The real cleanup: ci-4711 shares v1.1.0's digest, so it is untagged, never deleted by digest"
show $PORTSIDE cleanup "$host/demo/cleanup" --policy "$work/cleanup-policy.yml"

step "What is left"
show $PORTSIDE tags "$host/demo/cleanup"
printf '$ skopeo inspect --raw docker://%s | sha256sum   # v1.1.0 still resolves\n' \
  "$host/demo/cleanup:v1.1.0"
skopeo inspect --tls-verify=false --creds "$user:$password" --raw \
  "docker://$host/demo/cleanup:v1.1.0" | sha256sum | sed 's/^/sha256:/; s/ .*//'
