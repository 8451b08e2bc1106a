"""The sandbox's one network rule: loopback only.

The server binds a loopback address unless told otherwise (``core.server``), and the Trello
emulator checks and calls back only loopback webhook URLs (``trello.webhooks``): the sandbox
has no real security and never contacts another host.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (names are not resolved)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
