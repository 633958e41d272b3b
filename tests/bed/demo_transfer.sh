#!/usr/bin/env bash
# `make demo` part for pull and copy, sourced by tests/bed/demo.sh. It receives host, user,
# password, DOCKER_CONFIG (logged in), PORTSIDE, PY and a scratch dir `work`; the registry
# already holds the seeded images $host/demo/app:{1.0.0,1.1.0,latest}.
set -euo pipefail
# The verified-blob records of this demo's pulls stay in its scratch dir, not ~/.cache.
export PORTSIDE_CACHE_DIR="$work/cache"

step "Pull the multi-arch demo image into an OCI layout (this host's platform, then all)"
show $PORTSIDE pull "$host/demo/app:latest" --dest "$work/layout"
show $PORTSIDE pull "$host/demo/app:latest" "$host/demo/app:1.0.0" --dest "$work/layout" \
  --platform all --json

step "Pull again: the tag is re-resolved, blobs verified before are neither fetched nor hashed"
show $PORTSIDE pull "$host/demo/app:latest" "$host/demo/app:1.0.0" --dest "$work/layout" \
  --platform all

step "skopeo reads the layout: same digest as the registry"
printf '$ skopeo inspect --raw oci:%s:latest | sha256sum\n' "$work/layout"
layout_digest=$(skopeo inspect --raw "oci:$work/layout:latest" | sha256sum | sed 's/^/sha256:/; s/ .*//')
echo "$layout_digest"
printf '$ skopeo inspect --raw docker://%s | sha256sum\n' "$host/demo/app:latest"
registry_digest=$(skopeo inspect --tls-verify=false --creds "$user:$password" --raw \
  "docker://$host/demo/app:latest" | sha256sum | sed 's/^/sha256:/; s/ .*//')
echo "$registry_digest"
[ "$layout_digest" = "$registry_digest" ] || { echo "digests differ" >&2; exit 1; }

step "Promote it: copy takes the whole index by default, as crane copy does (same registry: blobs are mounted)"
show $PORTSIDE copy "$host/demo/app:latest" "$host/demo/copy:latest"

step "Digests are equal: the promoted tag is the tested index, every platform"
copy_digest=$(skopeo inspect --tls-verify=false --creds "$user:$password" --raw \
  "docker://$host/demo/copy:latest" | sha256sum | sed 's/^/sha256:/; s/ .*//')
echo "$host/demo/app:latest  $registry_digest"
echo "$host/demo/copy:latest $copy_digest"
[ "$copy_digest" = "$registry_digest" ] || { echo "digests differ" >&2; exit 1; }

step "Copy again: the destination has it, one HEAD and nothing moves"
show $PORTSIDE copy "$host/demo/app:latest" "$host/demo/copy:latest"

step "--platform picks one image out of the index (its own digest)"
show $PORTSIDE copy "$host/demo/app:latest" "$host/demo/arm64:latest" --platform linux/arm64 --json

step "A docker-archive for docker load, read back by skopeo"
show $PORTSIDE pull "$host/demo/app:1.0.0" --format docker-archive --dest "$work/app.tar" -q
show skopeo inspect "docker-archive:$work/app.tar:$host/demo/app:1.0.0" --format '{{.Architecture}} {{.Layers}}'
