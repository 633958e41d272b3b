"""Everything that talks to a registry.

Layers, bottom up (each imports only from the ones above it in this list):

    errors        the error tree
    reference     parse and normalise image references (pure, no I/O)
    configjson    config JSON as docker's Go decoder reads it (key matching, base64)
    authkeys      which `auths`/`credHelpers` key serves a registry or a repository
    dockerconfig  read and write Docker's config.json (the one place that does)
    envconfig     DOCKER_AUTH_CONFIG
    credentials   credential sources: explicit, DOCKER_AUTH_CONFIG, Docker config (credHelpers,
                  credsStore, auths)
    tlsconfig     SSL contexts: CA bundles, per-registry certs.d (CAs, client certificates)
    proxies       which proxy reaches a host (HTTPS_PROXY, NO_PROXY, ...; pure)
    httpresponse  one answer over a urllib3 response; its connection back to the pool
    httpclient    HTTP/1.1 on urllib3: pooled connections, proxies, TLS contexts
    auth          auth strategies a transport takes (anonymous, Basic, static token, login)
    challenge     the registry's Basic/Bearer challenge flow as a strategy, token cache
    retry         retry policy and Retry-After
    transport     HTTP to one host: scheme, the auth strategy's flow, retries, redirects
    distribution  the OCI distribution API on top of a transport
    registries/   the implementations: one spec each, the table, detection, the driver
                  contract, RegistryOptions and native credentials, the drivers
"""

from __future__ import annotations

# The project's version, read by hatch (pyproject.toml) and shown by `portside --version`.
# It lives here, at the bottom of the import graph, so the User-Agent needs no metadata lookup.
__version__ = "0.1.0"
