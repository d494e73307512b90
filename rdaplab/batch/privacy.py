"""One batch's privacy settings: validated up front, applied to frames and bodies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from rdaplab.errors import InputError
from rdaplab.frames import redact_frames, select_fields
from rdaplab.models import Response
from rdaplab.rdap import strip_pii_from_body
from rdaplab.schemas import Frames

__all__ = ["PRIVACY_MODES", "PrivacySettings", "check_privacy"]

PRIVACY_MODES: Final = ("default", "strict")


def check_privacy(mode: str) -> str:
    """Return ``mode`` when it is one of :data:`PRIVACY_MODES`.

    Raises
    ------
    InputError
        Any other value, naming the accepted ones.
    """
    if mode not in PRIVACY_MODES:
        raise InputError(f"privacy must be one of {', '.join(PRIVACY_MODES)}; got {mode!r}")
    return mode


@dataclass(frozen=True)
class PrivacySettings:
    """One batch's privacy settings, as :func:`rdaplab.lookup` and :func:`rdaplab.stream`
    apply them.

    Attributes
    ----------
    redact_pii
        Blank individual contacts' names, emails, phones and addresses in the frames
        (default).
    fields
        Keep only these columns in the frames (data minimization), or all.
    privacy
        ``"default"`` or ``"strict"`` (also strip personal data from raw bodies before
        they are cached).
    purpose, legal_basis
        Recorded in the cache's audit trail with the batch.
    retention_s
        Seconds a stored answer holding personal data is kept (purged when the cache is
        opened), or None.
    """

    redact_pii: bool = True
    fields: tuple[str, ...] | None = None
    privacy: str = "default"
    purpose: str | None = None
    legal_basis: str | None = None
    retention_s: float | None = None

    @classmethod
    def from_args(
        cls,
        *,
        redact_pii: bool = True,
        fields: Sequence[str] | None = None,
        privacy: str = "default",
        purpose: str | None = None,
        legal_basis: str | None = None,
        retention: float | timedelta | None = None,
    ) -> PrivacySettings:
        """Validate the user's arguments (InputError on a bad one) before any work."""
        if fields is not None and isinstance(fields, str):
            fields = [fields]
        if fields is not None:
            select_fields(Frames.empty(), fields)  # unknown names fail here, up front
        retention_s = retention.total_seconds() if isinstance(retention, timedelta) else retention
        if retention_s is not None and not retention_s > 0:
            raise InputError(f"retention must be a positive duration, not {retention!r}")
        return cls(
            redact_pii=bool(redact_pii),
            fields=None if fields is None else tuple(fields),
            privacy=check_privacy(privacy),
            purpose=purpose,
            legal_basis=legal_basis,
            retention_s=None if retention_s is None else float(retention_s),
        )

    @property
    def strict(self) -> bool:
        return self.privacy == "strict"

    def apply(self, frames: Frames) -> Frames:
        """The frames as the user gets them: redacted, then minimized."""
        if self.redact_pii:
            frames = redact_frames(frames, redact_pii=True)
        if self.fields is not None:
            frames = select_fields(frames, self.fields)
        return frames

    def prepare_for_cache(self, responses: Sequence[Response]) -> None:
        """In strict mode, strip personal data from bodies before they are written."""
        if not self.strict:
            return
        for resp in responses:
            resp.body = strip_pii_from_body(resp.body).encode("utf-8")
            resp.document = None  # the decoded form still holds what was stripped

    def record(
        self,
        cache: Any,
        batch_id: str,
        *,
        ran_at: datetime,
        objects: Mapping[str, int],
        finished_at: datetime | None = None,
    ) -> None:
        """Write the batch's audit row (what ran, why, what was kept)."""
        cache.record_audit(
            batch_id,
            ran_at=ran_at,
            objects=objects,
            pii_kept=not self.redact_pii,
            privacy=self.privacy,
            purpose=self.purpose,
            legal_basis=self.legal_basis,
            retention_s=self.retention_s,
            fields=self.fields,
            finished_at=finished_at,
        )
