#!/usr/bin/env bash
# `make demo` part for GitHub Packages, sourced by tests/bed/demo.sh after the cleanup part.
# It starts the fake Packages API (tests/github_support.py) in front of the demo's own
# token-auth registry: the fake serves ghcr.io's two halves on one port, the REST API and
# the registry's /v2/ (proxied, with the registry's token challenge), and refuses client
# DELETE as ghcr.io does, so every deletion shown here went through the Packages API. It
# receives host, user, password (the registry's), PORTSIDE, PY and `work`.
set -euo pipefail

step "Start a fake GitHub Packages API (ghcr.io-style) in front of this registry ($host)"
printf '%s' "$password" | $PY -m tests.bed ghcr --registry "http://$host" --user "$user" \
  --workdir "$work/ghcr" >"$work/ghcr.env" 2>"$work/ghcr.log" &
ghcr_pid=$!
trap 'kill "$ghcr_pid" 2>/dev/null; wait "$ghcr_pid" 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q '^ready=1' "$work/ghcr.env" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready=1' "$work/ghcr.env" || { cat "$work/ghcr.log"; exit 1; }
ghcr_host=$(sed -n 's/^host=//p' "$work/ghcr.env")
ghcr_url=$(sed -n 's/^url=//p' "$work/ghcr.env")
ghcr_token=$(sed -n 's/^token=//p' "$work/ghcr.env")
echo "packages API and registry: $ghcr_url (GITHUB_API_URL points here, as on GHES)"

step "Log in to it as to ghcr.io (docker/login-action): the registry's token realm answers"
printf '%s' "$password" | show $PORTSIDE login "$ghcr_host" -u "$user" --password-stdin

step "Seed the package demo/ghcr-app: a kept release index, an old CI index sharing a child, an attestation, untagged leftovers"
$PY - "$ghcr_host/demo/ghcr-app" <<'SEED'
import json
import sys

from drivers.reference import parse_repository
from drivers.registries import RegistryOptions, client_for
from tests.bed.images import Image, _index_of, oci_image, push_image

repository = parse_repository(sys.argv[1])
client = client_for(repository.registry, RegistryOptions())  # the login above
path = repository.path
amd, arm, riscv = (oci_image(f"ghcr-{p}", platform=f"linux/{p}") for p in ("amd64", "arm64", "riscv64"))
release, ci = _index_of((amd, arm)), _index_of((arm, riscv))
push_image(client, path, release, "v1.0.0")
print(f"pushed demo/ghcr-app:v1.0.0  {release.digest[:19]}  (index of amd64, arm64)")
push_image(client, path, ci, "ci-41")
print(f"pushed demo/ghcr-app:ci-41   {ci.digest[:19]}  (index of arm64, riscv64: arm64 is shared)")
base = oci_image("ghcr-att")
doc = json.loads(base.manifest_bytes)
doc["subject"] = release.descriptor()
att = Image(base.media_type, json.dumps(doc).encode(), config=base.config, layers=base.layers)
push_image(client, path, att)
print(f"pushed an untagged attestation of v1.0.0  {att.digest[:19]}")
for n in range(3):
    left = push_image(client, path, oci_image(f"ghcr-leftover-{n}"))
    print(f"pushed an untagged leftover  {left[:19]}")
SEED

export GITHUB_API_URL="$ghcr_url" GITHUB_TOKEN="$ghcr_token"
ghcr_args=(--repo-container-registry github --keep-tag 'v.*' --delete-untagged)
step "Dry run on the package: what goes, and why (the shared arm64 child and the attestation stay)"
show $PORTSIDE cleanup "$ghcr_host/demo/ghcr-app" "${ghcr_args[@]}" --dry-run

step "The real cleanup, through the Packages API (the registry itself refuses DELETE)"
show $PORTSIDE cleanup "$ghcr_host/demo/ghcr-app" "${ghcr_args[@]}"

step "What is left"
show $PORTSIDE tags "$ghcr_host/demo/ghcr-app"
printf '$ curl -H "Authorization: Bearer $GITHUB_TOKEN" %s | jq ...\n' \
  "$ghcr_url/orgs/demo/packages/container/ghcr-app/versions"
curl -s -H "Authorization: Bearer $ghcr_token" \
  "$ghcr_url/orgs/demo/packages/container/ghcr-app/versions?per_page=100" \
  | $PY -c 'import json,sys; [print(v["name"][:19], v["metadata"]["container"]["tags"]) for v in json.load(sys.stdin)]'
kill "$ghcr_pid" 2>/dev/null; wait "$ghcr_pid" 2>/dev/null || true
trap cleanup EXIT
