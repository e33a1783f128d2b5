"""What the audience side of connectors shares: the tally of one audience call, and the methods of a
platform without a replace-all upload (Google Ads, TikTok, X), where a full sync is adds plus the
removals the relay computes, so that a replace batch goes out as an add."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Unpack

from connectors.base import ReplaceSession
from relay.types import AudienceBatchResult, AudienceMember

#: at most this many refused members are named (with their reasons) in a batch result
MAX_SAMPLES = 20


@dataclass
class AudienceTally:
    """Accumulates the outcome of one audience call over its requests."""

    received: int
    failed: dict[int, str] = field(default_factory=dict)

    def fail(self, index: int, reason: str) -> None:
        self.failed[index] = reason

    def result(self) -> AudienceBatchResult:
        indexes = sorted(self.failed)
        samples = {str(i): self.failed[i] for i in indexes[:MAX_SAMPLES]}
        return AudienceBatchResult(self.received, len(indexes), samples, indexes)


class AddOnlyAudiences:
    """The :class:`connectors.base.AudienceConnector` methods of such a platform, over one
    :meth:`audience_members` that adds (or removes) one batch."""

    supports_replace: ClassVar[bool] = False

    async def audience_members(
        self, audience_id: str, members: Sequence[AudienceMember], *, add: bool
    ) -> AudienceBatchResult:
        """Add ``members`` to the platform's audience ``audience_id`` (``add=False``: remove them)."""
        raise NotImplementedError

    async def audience_add(self, audience_id: str, members: Sequence[AudienceMember]) -> AudienceBatchResult:
        return await self.audience_members(audience_id, members, add=True)

    async def audience_remove(
        self, audience_id: str, members: Sequence[AudienceMember]
    ) -> AudienceBatchResult:
        return await self.audience_members(audience_id, members, add=False)

    async def audience_replace(
        self, audience_id: str, members: Sequence[AudienceMember], **session: Unpack[ReplaceSession]
    ) -> AudienceBatchResult:
        """No replace session: members are (re)added; removals come from the relay's diff."""
        return await self.audience_members(audience_id, members, add=True)


__all__ = ["MAX_SAMPLES", "AddOnlyAudiences", "AudienceTally"]
