"""Daemonless image transfer: `pull` into an OCI layout or archive, and `copy` between
registries and layouts.

    events      the progress callback interface (rendering lives in ci_env.progress)
    verified    which blob files were already checked, kept outside the layout
    layout      OCI image layout read/write: atomic blobs, index.json last
    platforms   the host platform and platform selection out of an index
    workers     the thread pool: the first failure stops the rest
    fetch       parallel, streamed, verified blob downloads with Range resume
    plan        which manifests and blobs an image needs, for a platform choice
    pull        registry -> layout (and archives through `archive`)
    archive     oci-archive and docker-archive writers
    dockerfile  the base images a Dockerfile's FROM lines name
    endpoints   `oci:DIR[:TAG]` or a registry reference
    copy        registry <-> registry, layout -> registry, registry -> layout

Nothing is imported here: `portside pull` must start fast, so callers import the module
they need.
"""
