"""rdaplab: RDAP lookups at scale for researchers."""

from rdaplab._version import __version__

__all__ = ["__version__"]
