"""Test cases from distribution/reference, the package docker parses references with.

Source: https://github.com/distribution/reference, commit
4894124079e525c3c3c5c8aacaa653b5499004e9 (after v0.6.0), files normalize_test.go
(`ParseNormalizedNamed`, what docker uses for a reference on its command line) and
reference_test.go (`Parse`, the grammar without Hub normalisation). The inputs and the
upstream expectations are copied as data; tests/test_reference_upstream.py runs them.
Where portside deliberately differs, the case is in DELIBERATE with the reason.
"""

from __future__ import annotations

FFF64 = "f" * 64
FFF128 = "f" * 128

# normalize_test.go, TestValidateReferenceName (validRepoNames) and TestValidateRemoteName
# (validRepositoryNames): ParseNormalizedNamed accepts them.
VALID_NAMES = [
    "docker/docker",
    "library/debian",
    "debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "Docker/docker",
    "DOCKER/docker",
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
]

# The same two tests' invalid lists (the 64-hex name is in DELIBERATE).
INVALID_NAMES = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_"
    "namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its"
    "_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than"
    "_255/docker",
]

# normalize_test.go, TestParseRepositoryInfo: (remote name, familiar, full, ambiguous, domain);
# every one of familiar, full and ambiguous (when given) parses to `full`.
REPOSITORY_INFO = [
    ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
    ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"),
    ("other/library", "other/library", "docker.io/other/library", "", "docker.io"),
    (
        "private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "",
        "127.0.0.1:8000",
    ),
    (
        "privatebase",
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        "",
        "127.0.0.1:8000",
    ),
    (
        "private/moonbase",
        "example.com/private/moonbase",
        "example.com/private/moonbase",
        "",
        "example.com",
    ),
    ("privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"),
    (
        "private/moonbase",
        "example.com:8000/private/moonbase",
        "example.com:8000/private/moonbase",
        "",
        "example.com:8000",
    ),
    (
        "privatebasee",
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        "",
        "example.com:8000",
    ),
    (
        "library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io",
    ),
    ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
    ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"),
    ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"),
    ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
    ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
]

# normalize_test.go, TestNormalizedSplitHostname: (input, domain, path).
SPLIT_HOSTNAME = [
    ("test.com/foo", "test.com", "foo"),
    ("test_com/foo", "docker.io", "test_com/foo"),
    ("docker/migrator", "docker.io", "docker/migrator"),
    ("test.com:8080/foo", "test.com:8080", "foo"),
    ("test-com:8080/foo", "test-com:8080", "foo"),
    ("foo", "docker.io", "library/foo"),
    ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    ("docker.io/foo", "docker.io", "library/foo"),
    ("docker.io/library/foo", "docker.io", "library/foo"),
    ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
]

_REDIS = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
# normalize_test.go, TestParseAnyReference (the named cases; portside has no bare-digest
# references) and TestParseReferenceWithTagAndDigest: (input, the normalised string).
EQUIVALENT = [
    ("redis", "docker.io/library/redis"),
    ("redis:latest", "docker.io/library/redis:latest"),
    ("docker.io/library/redis:latest", "docker.io/library/redis:latest"),
    (f"redis@{_REDIS}", f"docker.io/library/redis@{_REDIS}"),
    (f"docker.io/library/redis@{_REDIS}", f"docker.io/library/redis@{_REDIS}"),
    ("dmcgowan/myapp", "docker.io/dmcgowan/myapp"),
    ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"),
    ("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest"),
    (f"dmcgowan/myapp@{_REDIS}", f"docker.io/dmcgowan/myapp@{_REDIS}"),
    (f"docker.io/dmcgowan/myapp@{_REDIS}", f"docker.io/dmcgowan/myapp@{_REDIS}"),
    (
        "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
        "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
    ),
    ("dbcc1", "docker.io/library/dbcc1"),
    (
        "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
        "docker.io/library/busybox:latest"
        "@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
    ),
]

# reference_test.go, TestReferenceParse, the cases Parse accepts: (input, tag, digest). Parse
# does not normalise, so the test derives the normalised name with splitDockerDomain's rule.
PARSE_VALID = [
    ("test_com", "", ""),
    ("test.com:tag", "tag", ""),
    ("test.com:5000", "5000", ""),
    ("test.com/repo:tag", "tag", ""),
    ("test:5000/repo", "", ""),
    ("test:5000/repo:tag", "tag", ""),
    (f"test:5000/repo@sha256:{FFF64}", "", f"sha256:{FFF64}"),
    (f"test:5000/repo:tag@sha256:{FFF64}", "tag", f"sha256:{FFF64}"),
    ("lowercase:Uppercase", "Uppercase", ""),
    ("a/" * 127 + "a:tag-puts-this-over-max", "tag-puts-this-over-max", ""),
    ("sub-dom1.foo.com/bar/baz/quux", "", ""),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "some-long-tag", ""),
    ("b.gcr.io/test.example.com/my-app:test.example.com", "test.example.com", ""),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", ""),
    (f"xn--7o8h.com/myimage:xn--7o8h.com@sha512:{FFF128}", "xn--7o8h.com", f"sha512:{FFF128}"),
    ("foo_bar.com:8080", "8080", ""),
    ("foo/foo_bar.com:8080", "8080", ""),
    ("192.168.1.1", "", ""),
    ("192.168.1.1:tag", "tag", ""),
    ("192.168.1.1:5000", "5000", ""),
    ("192.168.1.1/repo", "", ""),
    ("192.168.1.1:5000/repo", "", ""),
    ("192.168.1.1:5000/repo:5050", "5050", ""),
    ("[2001:db8::1]/repo", "", ""),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "tag", ""),
    ("[2001:db8::1]:5000/repo", "", ""),
    ("[2001:db8::1]:5000/repo:tag", "tag", ""),
    (f"[2001:db8::1]:5000/repo@sha256:{FFF64}", "", f"sha256:{FFF64}"),
    (f"[2001:db8::1]:5000/repo:tag@sha256:{FFF64}", "tag", f"sha256:{FFF64}"),
    ("[2001:db8::]:5000/repo", "", ""),
    ("[::1]:5000/repo", "", ""),
]

# The same test's errors (and TestWithNameFailure's), which ParseNormalizedNamed gives too.
PARSE_INVALID = [
    "",
    ":justtag",
    f"@sha256:{FFF64}",
    "repo@sha256:ffffffffffffffffffffffffffffffffff",
    f"validname@invaliddigest:{FFF64}",
    "Uppercase:tag",
    "test:5000/Uppercase/lowercase:tag",
    "a/" * 128 + "a:tag",
    "aa/asdf$$^/aa",
    "[2001:db8::1]",
    "[2001:db8::1]:5000",
    "[2001:db8::1]:tag",
    "[fe80::1%eth0]:5000/repo",
    "[fe80::1%@invalidzone]:5000/repo",
]

# Where portside reads an upstream case differently on purpose: (input, what portside gives,
# why). The reasons are in drivers/reference.py's docstring too.
DELIBERATE = [
    (
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker refuses a bare 64-hex name: its CLI reads one as a local image ID; portside has "
        "no local images",
    ),
]
