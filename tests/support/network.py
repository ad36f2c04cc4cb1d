"""Where processes listen, for the tests of who may reach them."""
from __future__ import annotations

import errno
import ipaddress
import os
import socket

import psutil


def listening_addresses(pid: int, port: int) -> set[str]:
    """The addresses process `pid` listens on at TCP `port` (empty while it does not listen yet)."""
    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on."""
    return {c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}


def other_local_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (to connect from "another host"), if it has one."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not ipaddress.ip_address(address.address).is_loopback:
                return address.address
    return None



def connection_refused(address: str, port: int) -> bool:
    """True when nothing listens at `address`:`port` (ECONNREFUSED), False when a connection is accepted."""
    with socket.socket() as client:
        client.settimeout(5)
        result = client.connect_ex((address, port))
    if result not in (0, errno.ECONNREFUSED):
        raise OSError(result, os.strerror(result))
    return result == errno.ECONNREFUSED
