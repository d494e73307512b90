"""Pure RDAP: names and query kinds, bootstrap matching (RFC 9224), decoding and
normalizing answers (RFC 9083, jCard, JSContact, RFC 9537 redactions), personal data.

Nothing here does network I/O or knows of the engine, the store, the frames or the batch.
The names below are what the layers above use; the modules hold the rest.
"""

from rdaplab.rdap.bootstrap import (
    STALE_AFTER_DAYS,
    Bootstrap,
    BootstrapOverrideWarning,
    BootstrapStaleWarning,
)
from rdaplab.rdap.bootstrap_files import ServiceMatch
from rdaplab.rdap.kinds import KINDS, detect_kind, normalize_queries, normalize_query
from rdaplab.rdap.names import normalize_domains
from rdaplab.rdap.pii import body_has_pii, strip_pii_from_body

__all__ = [
    "KINDS",
    "STALE_AFTER_DAYS",
    "Bootstrap",
    "BootstrapOverrideWarning",
    "BootstrapStaleWarning",
    "ServiceMatch",
    "body_has_pii",
    "detect_kind",
    "normalize_domains",
    "normalize_queries",
    "normalize_query",
    "strip_pii_from_body",
]
