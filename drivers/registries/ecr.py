"""The `ecr` implementation: AWS Elastic Container Registry, through boto3 (ecr_driver.py),
with registry logins from the AWS API when the Docker config has none (ecr_aws.py)."""

from __future__ import annotations

from drivers.registries.spec import RegistrySpec, host_pattern

SPEC = RegistrySpec(
    "ecr",
    "AWS ECR",
    r"^\d{12}\.dkr\.ecr(-fips)?\.<region>\.amazonaws\.com(\.cn)?$",
    "boto3 batch_delete_image by imageTag (100 per call)",
    host_pattern(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"),
    driver="drivers.registries.ecr_driver:EcrDriver",
    login="drivers.registries.ecr_aws:EcrLogin",
    extra="aws",
    sdk=("boto3",),
)
