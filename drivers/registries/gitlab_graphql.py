"""A container repository's tags through GitLab's GraphQL API, for the `gitlab` driver.

One paged query gives every tag with its digest and `publishedAt`, the push time (REST gives
names only, and its per-tag `created_at` is the image's time: gitlab#351538). It is tried
first; `None` means "ask REST": GraphQL refused the token (a job token is not accepted
there), the server has no GraphQL or no such field, or a tag has no `publishedAt` (a
registry without the metadata database), so that every tag is judged the same way.
"""

from __future__ import annotations

import json

from drivers.errors import Unreachable
from drivers.http.transport import Transport
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


def graphql_tags(transport: Transport, api: str, repository_id: str) -> list[TagInfo] | None:
    """Every tag with digest and push time, or None when GraphQL does not give them."""
    if transport.auth.is_anonymous or getattr(transport.auth, "header", "") == "JOB-TOKEN":
        return None  # GraphQL takes neither; REST does
    tags: list[TagInfo] = []
    after: str | None = None
    for _ in range(_MAX_PAGES):
        page = _page(transport, api, repository_id, after)
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


def _page(transport: Transport, api: str, repository_id: str, after: str | None) -> dict | None:
    variables = {"id": f"gid://gitlab/ContainerRepository/{repository_id}", "after": after}
    body = json.dumps({"query": QUERY, "variables": variables}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    try:
        response = transport.request("POST", graphql_url(api), headers=headers, data=body)
    except Unreachable:
        return None
    try:
        if response.status_code != 200:
            return None
        doc = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    finally:
        response.close()
    if not isinstance(doc, dict) or doc.get("errors"):
        return None
    repository = (doc.get("data") or {}).get("containerRepository")
    tags = repository.get("tags") if isinstance(repository, dict) else None
    return tags if isinstance(tags, dict) else None
