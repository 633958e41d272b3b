"""AWS for the `ecr` implementation: registry hosts, the boto3 client, botocore's errors as
portside's, and `EcrLogin`, registry credentials from the AWS API.

boto3 and botocore are imported inside the functions that call them, so that only a command
that talks to ECR loads them.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drivers.auth.credentials import ANONYMOUS, Credential
from drivers.errors import (
    CredentialError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    RegistryError,
    Unauthorized,
    Unreachable,
)
from drivers.reference import Repository, split_host_port

log = logging.getLogger("portside.ecr")

_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?P<fips>-fips)?\.(?P<region>[a-z0-9-]+)"
    r"\.amazonaws\.com(\.cn)?$",
    re.IGNORECASE,
)
_NOT_FOUND = frozenset({"RepositoryNotFoundException", "ImageNotFoundException"})
_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException"})
# The signature or key itself was refused: fixed like missing credentials, never shown.
_REFUSED = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
    }
)
_CREDENTIALS_HINT = (
    "give AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE "
    "(`aws configure` or `aws sso login`), or an instance or web-identity role"
)


def parse_host(host: str) -> tuple[str, str, bool]:
    """(account id, region, FIPS endpoint) of an ECR registry host."""
    found = _HOST.match(split_host_port(host)[0])
    if found is None:
        raise InvalidInput(
            f"{host} is not an AWS ECR registry host",
            hint="ECR hosts look like ACCOUNT.dkr.ecr.REGION.amazonaws.com; "
            "do not force --repo-container-registry ecr on another registry",
        )
    return found["account"], found["region"].lower(), bool(found["fips"])


def ecr_client(region: str, fips: bool) -> Any:
    """A boto3 ECR client for the region of a registry host (boto3 is imported here)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, use_fips_endpoint=fips)
    return boto3.session.Session().client("ecr", region_name=region, config=config)


class EcrLogin:
    """Registry credentials for an ECR host from the AWS API, as docker-credential-ecr-login
    gets them: `get_authorization_token` gives a 12-hour user `AWS` and password.

    It is asked only after the Docker config found nothing for the host (see
    `drivers.registries.connect`), and it never fails a command: without AWS credentials or the
    `ecr:GetAuthorizationToken` permission it answers anonymous, and the registry's refusal
    then says how to log in.
    """

    def resolve(self, registry: str, repository: str | None = None) -> Credential:
        try:
            account, region, fips = parse_host(registry)
        except InvalidInput:
            return ANONYMOUS
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return ANONYMOUS
        try:
            answer = ecr_client(region, fips).get_authorization_token(registryIds=[account])
            token = answer["authorizationData"][0]["authorizationToken"]
            username, _, password = base64.b64decode(token).decode().partition(":")
        except (BotoCoreError, ClientError, KeyError, IndexError, ValueError) as error:
            log.debug("no ECR login token for %s: %s", registry, type(error).__name__)
            return ANONYMOUS
        if not (username and password):
            return ANONYMOUS
        return Credential(
            username=username,
            password=password,
            source=f"the AWS API (ecr:GetAuthorizationToken, region {region})",
        )


@contextmanager
def aws_errors(
    what: str, permission: str, region: str, repository: Repository | None = None
) -> Iterator[None]:
    """botocore's exceptions as portside's error tree, each with the fix."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    try:
        yield
    except ClientError as error:
        raise _client_error(error, what, permission, region, repository) from None
    except (NoCredentialsError, PartialCredentialsError):
        raise CredentialError(
            f"{what}: no usable AWS credentials were found", hint=_CREDENTIALS_HINT
        ) from None
    except ProfileNotFound as error:
        raise CredentialError(
            f"{what}: {error}", hint="set AWS_PROFILE to a profile in ~/.aws/config"
        ) from None
    except (EndpointConnectionError, ConnectTimeoutError) as error:
        raise Unreachable(
            f"{what}: cannot reach the ECR API in {region} ({type(error).__name__})",
            hint="check the network, the region in the host name and AWS_ENDPOINT_URL_ECR",
        ) from None
    except BotoCoreError as error:
        raise RegistryError(f"{what}: {type(error).__name__}") from None


def _client_error(
    error: Any, what: str, permission: str, region: str, repository: Repository | None
) -> RegistryError:
    info = error.response.get("Error", {})
    code = str(info.get("Code") or "")
    text = f"{what}: {code}: {info.get('Message') or ''}".rstrip(": ")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "RepositoryNotFoundException":
        path = repository.path if repository else "NAME"
        return NotFound(
            text,
            status=status,
            hint="ECR repositories must already exist; create it with `aws ecr "
            f"create-repository --repository-name {path} --region {region}`",
        )
    if code in _NOT_FOUND:
        return NotFound(text, status=status)
    if code == "AccessDeniedException":
        return Forbidden(
            text,
            status=status,
            hint=f"the AWS identity needs the IAM permission {permission} on the repository",
        )
    if code in _THROTTLED:
        return RateLimited(text, status=status, hint="run again later, or with fewer --jobs")
    if code in _REFUSED:
        return Unauthorized(
            f"{what}: AWS refused the credentials ({code})",
            status=status,
            hint=_CREDENTIALS_HINT,
        )
    return RegistryError(text, status=status)
