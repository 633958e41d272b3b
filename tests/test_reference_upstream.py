"""distribution/reference's own test tables (tests/reference_cases.py), run against portside.

docker parses a reference with `ParseNormalizedNamed`, so these are the answers a reference
copied from a docker command must get here too; DELIBERATE lists where portside differs.
"""

from __future__ import annotations

import pytest

from drivers.errors import InvalidReference
from drivers.reference import parse_reference, parse_repository
from tests import reference_cases as cases


@pytest.mark.parametrize("name", cases.VALID_NAMES)
def test_names_docker_accepts(name: str) -> None:
    parse_reference(name)


@pytest.mark.parametrize("name", cases.INVALID_NAMES)
def test_names_docker_refuses(name: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(name)


@pytest.mark.parametrize(
    ("remote", "familiar", "full", "ambiguous", "domain"), cases.REPOSITORY_INFO
)
def test_repository_info(
    remote: str, familiar: str, full: str, ambiguous: str, domain: str
) -> None:
    for text in filter(None, (familiar, full, ambiguous)):
        repository = parse_repository(text)
        assert (repository.registry, repository.path) == (domain, remote), text
        assert str(repository) == full
        assert repository.familiar == familiar


@pytest.mark.parametrize(("text", "domain", "path"), cases.SPLIT_HOSTNAME)
def test_normalized_split_hostname(text: str, domain: str, path: str) -> None:
    repository = parse_repository(text)
    assert (repository.registry, repository.path) == (domain, path)


@pytest.mark.parametrize(("text", "equivalent"), cases.EQUIVALENT)
def test_parse_any_reference_named_cases(text: str, equivalent: str) -> None:
    assert str(parse_reference(text, default_tag=None)) == equivalent
    assert parse_reference(equivalent, default_tag=None) == parse_reference(text, default_tag=None)


def _docker_normalised(name: str) -> str:
    """splitDockerDomain (normalize.go) applied to a name Parse accepted: the upstream rule,
    written out here as the oracle for the Parse table (its hosts are all lower case)."""
    first, slash, rest = name.partition("/")
    is_host = slash and (
        first == "localhost" or any(c in first for c in ".:") or first != first.lower()
    )
    host, path = (first, rest) if is_host else ("docker.io", name)
    if host == "index.docker.io":
        host = "docker.io"
    if host == "docker.io" and "/" not in path:
        path = "library/" + path
    return f"{host}/{path}"


@pytest.mark.parametrize(("text", "tag", "digest"), cases.PARSE_VALID)
def test_reference_parse_valid(text: str, tag: str, digest: str) -> None:
    name = text.removesuffix(f"@{digest}") if digest else text
    name = name.removesuffix(f":{tag}") if tag else name
    ref = parse_reference(text, default_tag=None)
    assert (ref.tag or "", ref.digest or "") == (tag, digest)
    assert str(ref.repository) == _docker_normalised(name)


@pytest.mark.parametrize("text", cases.PARSE_INVALID)
def test_reference_parse_invalid(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(text)


@pytest.mark.parametrize(("text", "portside", "why"), cases.DELIBERATE)
def test_deliberate_differences(text: str, portside: str, why: str) -> None:
    assert why
    assert str(parse_reference(text, default_tag=None)) == portside
