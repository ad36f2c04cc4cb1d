"""Hosts on a network a test can break: Linux network namespaces joined by veth links to one bridge.

    network = Network().start()               # a switch namespace holding the bridge
    db = network.add_host("pg", 10)           # namespace + veth to the bridge, address 10.231.N.10/24
    network.join_from_here(1)                 # the test process's own veth (10.231.N.1) on the bridge
    network.run(db, ["redis-server", ...])    # argv that runs a command inside a host's namespace
    with network.partitioned(worker, redis):  # nftables drops every packet between the two, both ways
        ...
    network.close()                           # every namespace, link and process in them, gone

Traffic stays on the test's bridge: the subnet is private (10.231.N.0/24, N free on this machine), nothing
routes or forwards it anywhere else, and each namespace has only its loopback and its link to the bridge.
Namespaces are named `shopapp-net<pid>-<host>`; ones left by a test process that no longer exists are
removed first. Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN), iproute2 and, for partitions, nftables.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

PREFIX = "shopapp-net"
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def ip_binary() -> str | None:
    return shutil.which("ip", path=SEARCH_PATH)


def nft_binary() -> str | None:
    return shutil.which("nft", path=SEARCH_PATH)


def unavailable_reason() -> str | None:
    """Why this machine cannot run the network tests (None when it can): tools missing, or no permission."""
    if ip_binary() is None:
        return "iproute2's `ip` is not installed"
    if nft_binary() is None:
        return "nftables' `nft` is not installed (`make test` installs it where it can, as root)"
    probe = f"{PREFIX}{os.getpid()}-probe"
    result = subprocess.run([ip_binary(), "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return f"cannot create network namespaces here ({result.stderr.strip() or 'ip netns add failed'})"
    subprocess.run([ip_binary(), "netns", "del", probe], capture_output=True)
    return None


@dataclass(frozen=True)
class Host:
    name: str
    namespace: str
    address: str


class Network:
    """A /24 of namespaces on one bridge (see the module docstring)."""

    def __init__(self):
        self.ip, self.nft = ip_binary(), nft_binary()
        self.tag = f"{PREFIX}{os.getpid()}"
        self.hosts: dict[str, Host] = {}
        self.switch = f"{self.tag}-switch"
        self._root_link: str | None = None
        self.subnet = ""

    def start(self) -> Network:
        remove_leftovers(self.ip)
        self.subnet = free_subnet(self.ip)
        self._sh("netns", "add", self.switch)
        self._sh("-n", self.switch, "link", "add", "br0", "type", "bridge")
        self._sh("-n", self.switch, "link", "set", "br0", "up")
        self._sh("-n", self.switch, "link", "set", "lo", "up")
        return self

    def address(self, last_octet: int) -> str:
        return f"{self.subnet}.{last_octet}"

    def add_host(self, name: str, last_octet: int) -> Host:
        """A namespace with `lo` and `eth0` (address .`last_octet`) linked to the bridge."""
        host = Host(name, f"{self.tag}-{name}", self.address(last_octet))
        self._sh("netns", "add", host.namespace)
        self.hosts[name] = host
        port = f"p-{name}"[:15]
        self._sh("link", "add", port, "netns", self.switch, "type", "veth", "peer", "name", "eth0",
                 "netns", host.namespace)
        self._attach(port)
        self._sh("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        self._sh("-n", host.namespace, "link", "set", "eth0", "up")
        self._sh("-n", host.namespace, "link", "set", "lo", "up")
        return host

    def join_from_here(self, last_octet: int) -> str:
        """Give this (root-namespace) process an address on the bridge; returns it."""
        self._root_link = f"sn{os.getpid()}"[:15]
        self._sh("link", "add", self._root_link, "type", "veth", "peer", "name", "p-tester", "netns", self.switch)
        self._attach("p-tester")
        address = self.address(last_octet)
        self._sh("addr", "add", f"{address}/24", "dev", self._root_link)
        self._sh("link", "set", self._root_link, "up")
        return address

    def run(self, host: Host, argv: list[str], user: str | None = None) -> list[str]:
        """`argv` run inside `host`'s namespace (as `user`, through runuser, when given)."""
        prefix = [self.ip, "netns", "exec", host.namespace]
        if user is not None:
            prefix += [shutil.which("runuser", path=SEARCH_PATH) or "runuser", "-u", user, "--"]
        return prefix + argv

    @contextlib.contextmanager
    def partitioned(self, host: Host, peer: Host) -> Iterator[None]:
        """Inside `host`'s namespace, drop every packet to and from `peer`: open connections hang and new
        ones time out, as when a link fails silently (no reset, no ICMP). Undone on exit."""
        rules = (f"table inet shopapp_partition {{\n"
                 f"  chain out {{ type filter hook output priority 0; ip daddr {peer.address} drop; }}\n"
                 f"  chain in {{ type filter hook input priority 0; ip saddr {peer.address} drop; }}\n}}\n")
        subprocess.run(self.run(host, [self.nft, "-f", "-"]), input=rules, text=True, check=True,
                       capture_output=True)
        try:
            yield
        finally:
            subprocess.run(self.run(host, [self.nft, "delete", "table", "inet", "shopapp_partition"]),
                           check=True, capture_output=True)

    def close(self) -> None:
        """Kill whatever still runs in the namespaces, delete them (their links go with them)."""
        for namespace in [h.namespace for h in self.hosts.values()] + [self.switch]:
            remove_namespace(self.ip, namespace)
        self.hosts.clear()

    def _attach(self, port: str) -> None:
        self._sh("-n", self.switch, "link", "set", port, "master", "br0")
        self._sh("-n", self.switch, "link", "set", port, "up")

    def _sh(self, *args: str) -> None:
        result = subprocess.run([self.ip, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def remove_namespace(ip: str, namespace: str) -> None:
    pids = subprocess.run([ip, "netns", "pids", namespace], capture_output=True, text=True).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run([ip, "netns", "del", namespace], capture_output=True)


def remove_leftovers(ip: str) -> None:
    """Delete the namespaces of earlier test processes that died without cleaning up."""
    listing = subprocess.run([ip, "netns", "list"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        owner = name[len(PREFIX):].split("-", 1)[0]
        if name.startswith(PREFIX) and owner.isdigit() and not _alive(int(owner)):
            remove_namespace(ip, name)


def free_subnet(ip: str) -> str:
    """`10.231.N` for an N no address on this machine's root namespace uses."""
    used = subprocess.run([ip, "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    start = os.getpid() % 200
    for offset in range(200):
        candidate = f"10.231.{20 + (start + offset) % 200}"
        if f" {candidate}." not in used:
            return candidate
    raise RuntimeError("no free 10.231.N.0/24 subnet")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
