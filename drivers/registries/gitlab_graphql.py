"""A container repository's tags through GitLab's GraphQL API, for the `gitlab` driver.

One paged query gives every tag with its digest and `publishedAt`, the push time (REST gives
names only, and its per-tag `created_at` is the image's time: gitlab#351538). It is tried
first; `None` means "ask REST": GraphQL refused the token (a job token is not accepted
there), the server has no GraphQL or no such field, or a tag has no `publishedAt` (a
registry without the metadata database), so that every tag is judged the same way.

It is posted with python-gitlab's `http_post` to the full `/api/graphql` URL: the same
session, token header, retries and 429 waits as the REST calls. python-gitlab's own
`gitlab.GraphQL` class is not used: it needs gql and httpx (a second HTTP stack, outside
portside's transport) and, by its documentation, neither pages nor obeys rate limits.
"""

from __future__ import annotations

from typing import Any

from gitlab import exceptions as sdk

from drivers.http.requests_session import TransportFailure
from drivers.registries.contract import TagInfo, parse_created
from drivers.registries.native import listed_tag

PAGE_SIZE = 100  # GraphQL's largest page
_MAX_PAGES = 10_000
QUERY = """query($id: ContainerRepositoryID!, $after: String) {
  containerRepository(id: $id) {
    tags(first: 100, after: $after) {
      nodes { name digest createdAt publishedAt }
      pageInfo { endCursor hasNextPage }
    }
  }
}"""


def graphql_url(api: str) -> str:
    return api.removesuffix("/api/v4") + "/api/graphql"


def graphql_tags(gl: Any, api: str, repository_id: str) -> list[TagInfo] | None:
    """Every tag with digest and push time, or None when GraphQL does not give them. `gl`
    is the python-gitlab client, with an access token (GraphQL takes no job token)."""
    tags: list[TagInfo] = []
    after: str | None = None
    for _ in range(_MAX_PAGES):
        page = _page(gl, api, repository_id, after)
        if page is None:
            return None
        for node in page.get("nodes") or []:
            if not isinstance(node, dict) or not isinstance(node.get("name"), str):
                return None
            pushed = parse_created(node.get("publishedAt"))
            if pushed is None:
                return None
            tags.append(listed_tag(node["name"], node.get("digest"), pushed))
        info = page.get("pageInfo") or {}
        after = info.get("endCursor") if isinstance(info, dict) else None
        if not (isinstance(info, dict) and info.get("hasNextPage") is True and after):
            return tags
    return None


def _page(gl: Any, api: str, repository_id: str, after: str | None) -> dict | None:
    variables = {"id": f"gid://gitlab/ContainerRepository/{repository_id}", "after": after}
    try:
        doc = gl.http_post(graphql_url(api), post_data={"query": QUERY, "variables": variables})
    except (sdk.GitlabError, TransportFailure):
        return None  # no GraphQL here, or it refused: REST answers with its own errors
    if not isinstance(doc, dict) or doc.get("errors"):
        return None
    repository = (doc.get("data") or {}).get("containerRepository")
    tags = repository.get("tags") if isinstance(repository, dict) else None
    return tags if isinstance(tags, dict) else None
