"""The `ecr` driver: AWS Elastic Container Registry through its own API (boto3).

ECR's API reports what the Registry v2 API cannot cheaply: every tag with its digest and
push time in one paginated listing, and a bulk delete by tag. `batch_delete_image` with
`imageTag` removes only that tag, and the image with it when it was the image's last tag,
so no dummy-manifest untag is ever needed here.

Credentials come from the standard AWS chain (environment, `aws configure`, SSO, instance
and web-identity roles); boto3 also honours `AWS_ENDPOINT_URL_ECR` / `AWS_ENDPOINT_URL`.
boto3 is imported only when the first call is made, so other commands never load it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar

from drivers.distribution import DistributionClient
from drivers.errors import (
    NotFound,
    RegistryError,
)
from drivers.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    media_type_of,
)
from drivers.reference import Reference, Repository
from drivers.registries.contract import TagDeletion, TagInfo
from drivers.registries.ecr_aws import aws_errors, ecr_client, parse_host

BATCH = 100  # image ids per batch_delete_image / batch_get_image call (the API's limit)
_ACCEPTED = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST]


def _image_id(reference: str) -> dict[str, str]:
    # A tag never contains ':' (distribution-spec), a digest always does.
    return {"imageDigest": reference} if ":" in reference else {"imageTag": reference}


def _failure_text(failure: dict[str, Any]) -> str:
    code = failure.get("failureCode") or "failed"
    reason = failure.get("failureReason")
    return f"{code}: {reason}" if reason else str(code)


class EcrDriver:
    name: ClassVar[str] = "ecr"

    def __init__(self, client: DistributionClient, *_: object) -> None:
        # AWS credentials come from boto3's own chain; the options and the (empty) native
        # credentials every driver is built with add none.
        self.client = client
        self.registry_id, self.region, self.fips = parse_host(client.registry)
        self._ecr: Any = None
        self._lock = threading.Lock()

    @property
    def ecr(self) -> Any:
        """The boto3 ECR client, made on first use (creating one is not thread-safe; using
        one is)."""
        with self._lock:
            if self._ecr is None:
                self._ecr = ecr_client(self.region, self.fips)
            return self._ecr

    # --- Driver ------------------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        """Every tag with its digest and push time, from `describe_images`."""
        tags = []
        with self._errors(f"list the tags of {repository}", "ecr:DescribeImages", repository):
            pages = self.ecr.get_paginator("describe_images").paginate(
                registryId=self.registry_id,
                repositoryName=repository.path,
                filter={"tagStatus": "TAGGED"},
            )
            for page in pages:
                for image in page.get("imageDetails", ()):
                    pushed = _utc(image.get("imagePushedAt"))
                    for tag in image.get("imageTags") or ():
                        tags.append(TagInfo(tag, image["imageDigest"], pushed))
        return tags

    def resolve(self, reference: Reference) -> Descriptor:
        with self._errors(f"resolve {reference}", "ecr:DescribeImages", reference.repository):
            answer = self.ecr.describe_images(
                registryId=self.registry_id,
                repositoryName=reference.path,
                imageIds=[_image_id(reference.identifier)],
            )
        details = answer.get("imageDetails") or []
        if not details:
            raise NotFound(f"{reference}: not found")
        image = details[0]
        # ECR reports the whole image's size, not the manifest's; callers of resolve use the
        # digest, and reading the manifest for its length would cost a second call.
        return Descriptor(
            media_type=image.get("imageManifestMediaType") or "",
            digest=image["imageDigest"],
            size=int(image.get("imageSizeInBytes") or 0),
        )

    def delete_tag(self, repository: Repository, tag: str) -> None:
        (answer,) = self._delete_batch(repository, [tag])
        if not answer.ok:
            raise _failure_error(f"delete {repository}:{tag}", answer.error or "")

    # --- DeletesTagsInBulk -------------------------------------------------------------------

    def delete_tags(self, repository: Repository, tags: Sequence[str]) -> list[TagDeletion]:
        """Untag in calls of up to 100 tags; each tag gets ECR's own answer."""
        unique = list(dict.fromkeys(tags))
        answers: list[TagDeletion] = []
        for start in range(0, len(unique), BATCH):
            chunk = unique[start : start + BATCH]
            try:
                answers += self._delete_batch(repository, chunk)
            except RegistryError as error:
                if not answers:
                    raise  # nothing deleted yet: the caller sees the error itself
                # Raising now would hide what the earlier calls deleted.
                answers += [TagDeletion(tag, str(error)) for tag in chunk]
        return answers

    def _delete_batch(self, repository: Repository, tags: Sequence[str]) -> list[TagDeletion]:
        with self._errors(f"delete tags in {repository}", "ecr:BatchDeleteImage", repository):
            answer = self.ecr.batch_delete_image(
                registryId=self.registry_id,
                repositoryName=repository.path,
                imageIds=[{"imageTag": tag} for tag in tags],
            )
        failed = {
            f.get("imageId", {}).get("imageTag"): _failure_text(f)
            for f in answer.get("failures", ())
        }
        deleted = {i.get("imageTag") for i in answer.get("imageIds", ())}
        return [
            TagDeletion(tag, None)
            if tag in deleted and tag not in failed
            else TagDeletion(tag, failed.get(tag, "ECR did not report on this tag"))
            for tag in tags
        ]

    # --- DeletesManifests ----------------------------------------------------------------------

    def delete_manifest(self, repository: Repository, digest: str) -> None:
        """Delete the image by digest, with every tag on it (the engine only asks when no
        kept tag is on it)."""
        what = f"delete {repository}@{digest}"
        with self._errors(what, "ecr:BatchDeleteImage", repository):
            answer = self.ecr.batch_delete_image(
                registryId=self.registry_id,
                repositoryName=repository.path,
                imageIds=[{"imageDigest": digest}],
            )
        failures = answer.get("failures") or []
        if failures:
            raise _failure_error(what, _failure_text(failures[0]))

    # --- ReadsManifests ----------------------------------------------------------------------

    def get_manifest(self, repository: Repository, reference: str) -> Manifest:
        what = f"read the manifest {repository}{'@' if ':' in reference else ':'}{reference}"
        with self._errors(what, "ecr:BatchGetImage", repository):
            answer = self.ecr.batch_get_image(
                registryId=self.registry_id,
                repositoryName=repository.path,
                imageIds=[_image_id(reference)],
                acceptedMediaTypes=_ACCEPTED,
            )
        images = answer.get("images") or []
        if not images:
            failures = answer.get("failures") or [{}]
            raise _failure_error(what, _failure_text(failures[0]))
        image = images[0]
        body = image["imageManifest"].encode()
        media_type = image.get("imageManifestMediaType") or media_type_of(body, None)
        # The digest is ECR's own: it is what the tag listing and deletes name. (moto's
        # stand-in is not sha256 of the body, so it is not checked against it here.)
        return Manifest(media_type, image["imageId"]["imageDigest"], body)

    def read_blob(self, repository: Repository, digest: str) -> bytes:
        # Through the registry API with the Docker config's ECR login. Cleanup never needs it
        # here: every ECR tag has a push time, so image configs are not read for their dates.
        return self.client.read_blob(repository.path, digest)

    # --- ListsRepositories -------------------------------------------------------------------

    def list_repositories(self, prefix: str = "") -> Iterator[str]:
        names = []
        with self._errors(
            f"list the repositories of {self.client.registry}", "ecr:DescribeRepositories"
        ):
            pages = self.ecr.get_paginator("describe_repositories").paginate(
                registryId=self.registry_id
            )
            for page in pages:
                names += [r["repositoryName"] for r in page.get("repositories", ())]
        yield from (name for name in sorted(names) if name.startswith(prefix))

    # --- errors ------------------------------------------------------------------------------

    def _errors(self, what: str, permission: str, repository: Repository | None = None):
        """botocore's exceptions as portside's error tree, each with the fix."""
        return aws_errors(what, permission, self.region, repository)


def _failure_error(what: str, failure: str) -> RegistryError:
    """A per-image failure of a batch call, as an exception."""
    if failure.startswith("ImageNotFound"):
        return NotFound(f"{what}: {failure}")
    return RegistryError(f"{what}: {failure}")


def _utc(when: datetime | None) -> datetime | None:
    return when.astimezone(timezone.utc) if when is not None else None
