"""The ImageRegistry port on ECR: a version tag resolved to its digest, and the version of a running image."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..domain.catalog import AppConfig
from ..domain.errors import DeployError, TagNotFound, UpstreamError
from ..domain.models import Image, PushedVersion
from .accounts import Accounts
from .calls import call, call_as

if TYPE_CHECKING:
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef


VERSION_PAGES = 5  # 5,000 images: a version picker has seen enough by then


class EcrRegistry:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    async def resolve(self, app: AppConfig, tag: str) -> Image:
        """The image a tag names now (``latest``: the newest version tag on the same image)."""
        clients = self.accounts.clients(app)
        repository, version_pattern = app.repository, app.version_pattern

        def codes(code: str, message: str) -> DeployError | None:
            if code == "ImageNotFoundException":
                return TagNotFound(repository, tag)
            if code == "RepositoryNotFoundException":
                return UpstreamError(f"The ECR repository `{repository}` does not exist; check the catalog.")
            return None

        resp = await call_as(
            codes, clients.ecr.describe_images, repositoryName=repository, imageIds=[{"imageTag": tag}]
        )
        detail = resp["imageDetails"][0]
        uri = f"{detail.get('registryId', '')}.dkr.ecr.{clients.region}.amazonaws.com/{repository}"
        if tag == "latest":
            versions = sorted(
                t for t in detail.get("imageTags", []) if t != "latest" and re.fullmatch(version_pattern, t)
            )
            if not versions:
                raise TagNotFound(repository, "latest (with a version tag on the same image)")
            tag = versions[-1]
        return Image(repository_uri=uri, tag=tag, digest=str(detail.get("imageDigest", "")))

    async def versions(self, app: AppConfig) -> list[PushedVersion]:
        """Every version tag in the repository (``latest`` and other non-version tags left out),
        newest push first; a few pages of describe_images at most."""
        ecr = self.accounts.clients(app).ecr
        found: list[PushedVersion] = []
        token: str | None = None
        for _ in range(VERSION_PAGES):
            if token:
                resp = await call(
                    ecr.describe_images,
                    repositoryName=app.repository,
                    filter={"tagStatus": "TAGGED"},
                    maxResults=1000,
                    nextToken=token,
                )
            else:
                resp = await call(
                    ecr.describe_images, repositoryName=app.repository, filter={"tagStatus": "TAGGED"}, maxResults=1000
                )
            for detail in resp["imageDetails"]:
                pushed = detail.get("imagePushedAt")
                digest = str(detail.get("imageDigest", ""))
                for tag in detail.get("imageTags", []):
                    if tag != "latest" and re.fullmatch(app.version_pattern, tag):
                        found.append(PushedVersion(tag=tag, digest=digest, pushed_at=pushed))
            token = resp.get("nextToken")
            if not token:
                break
        oldest = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda v: (v.pushed_at or oldest, v.tag), reverse=True)

    async def has_digest(self, app: AppConfig, digest: str) -> bool:
        ecr = self.accounts.clients(app).ecr
        try:
            await call(ecr.describe_images, repositoryName=app.repository, imageIds=[{"imageDigest": digest}])
        except DeployError:
            return False
        return True

    async def version_of(self, app: AppConfig, image: str) -> str | None:
        """The version tag of a running image reference (`repo:tag` or `repo@sha256:...`)."""
        ecr, version_pattern = self.accounts.clients(app).ecr, app.version_pattern
        ref = image.rsplit("/", 1)[-1]
        image_id: ImageIdentifierTypeDef
        if "@" in ref:
            image_id = {"imageDigest": ref.split("@", 1)[1]}
        elif ":" in ref:
            tag = ref.split(":", 1)[1]
            if tag != "latest" and re.fullmatch(version_pattern, tag):
                return tag
            image_id = {"imageTag": tag}
        else:
            return None
        try:
            details = (await call(ecr.describe_images, repositoryName=app.repository, imageIds=[image_id]))[
                "imageDetails"
            ]
        except DeployError:
            return None
        tags = [t for d in details for t in d.get("imageTags", []) if re.fullmatch(version_pattern, t)]
        return sorted(tags)[-1] if tags else None
