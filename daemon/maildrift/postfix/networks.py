"""mynetworks as Postfix computes it from mynetworks_style and the host's addresses.

>>> mynetworks_for_style("host", ("127.0.0.1/8", "192.0.2.2/24", "::1/128", "fd00::2/64"))
'127.0.0.1/32 192.0.2.2/32 [::1]/128 [fd00::2]/128'
>>> mynetworks_for_style("subnet", ("127.0.0.1/8", "192.0.2.2/24", "fd00::2/64"))
'127.0.0.0/8 192.0.2.0/24 [fd00::]/64'
"""

from __future__ import annotations

import functools
import ipaddress

__all__ = ["mynetworks_for_style"]


def _format(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if network.version == 6:
        return f"[{network.network_address}]/{network.prefixlen}"
    return str(network)


@functools.lru_cache(maxsize=64)
def mynetworks_for_style(style: str, addresses: tuple[str, ...]) -> str | None:
    """The default mynetworks for a style; None for a style Postfix would reject."""
    interfaces = [ipaddress.ip_interface(a) for a in addresses]
    interfaces.sort(key=lambda i: i.version)
    if style == "host":
        networks = [ipaddress.ip_network(i.ip) for i in interfaces]
    elif style == "subnet":
        networks = [i.network for i in interfaces]
    elif style == "class":
        networks = []
        for iface in interfaces:
            if iface.version == 6:
                networks.append(iface.network)
                continue
            first = int(str(iface.ip).split(".")[0])
            prefix = 8 if first < 128 else 16 if first < 192 else 24
            networks.append(ipaddress.ip_network(f"{iface.ip}/{prefix}", strict=False))
    else:
        return None
    seen: list[str] = []
    for network in networks:
        text = _format(network)
        if text not in seen:
            seen.append(text)
    return " ".join(seen)
