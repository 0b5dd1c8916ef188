"""Test hosts on one machine: Linux network namespaces on one bridge, with real processes in them.

Each host is a network namespace with one veth link into a bridge in the root namespace, its own
address on a private /24, its own host name (a UTS namespace per process, so `socket.gethostname()`
tells the hosts apart in leases and logs) and its own state directory. The pytest process stays in
the root namespace and reaches every host through the bridge, like a client on the same LAN.

Everything carries a per-run id, so a run that crashed (and left a namespace behind) never blocks the
next one; `Network.destroy` removes what this run made, whatever state it is in.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shlex
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

IP = "ip"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command (iproute2 and friends) and fail with its stderr."""
    result = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if check and result.returncode != 0:
        raise RuntimeError(f"{shlex.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = sh(IP, "-4", "-o", "addr", "show").stdout
    return [ipaddress.ip_interface(line.split()[3]).network for line in out.splitlines()]


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.77.0.0/16 that no interface of the root namespace uses (an earlier run's bridge may)."""
    used = _used_networks()
    candidates = list(range(256))
    random.shuffle(candidates)
    for octet in candidates:
        net = ipaddress.ip_network(f"10.77.{octet}.0/24")
        if not any(net.overlaps(other) for other in used):
            return net
    raise RuntimeError("no free /24 left in 10.77.0.0/16")


class Process:
    """One process started in a host, in its own process group (kill -9 takes its children too)."""

    def __init__(self, host: Host, name: str, argv: list[str], env: dict[str, str], *, cwd: Path):
        self.host = host
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.host.var_dir / f"{self.name}-{self.starts}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logs(self) -> list[Path]:
        """Every log this process wrote, one per start."""
        return [self.host.var_dir / f"{self.name}-{n}.log" for n in range(1, self.starts + 1)]

    def start(self, *, ready: str | None = None, timeout: float = 90) -> Process:
        self.starts += 1
        log = open(self.log_path, "w")  # noqa: SIM115 - closed with the process
        # `ip netns exec` enters the host's network; `unshare --uts` gives the process the host's name.
        # Both exec their command, so the pid is the program's and the process group is its own.
        argv = [
            IP,
            "netns",
            "exec",
            self.host.netns,
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            'hostname "$0" && exec "$@"',
            self.host.name,
            *self.argv,
        ]
        self.proc = subprocess.Popen(  # noqa: S603
            argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        if ready:
            self.wait_for(ready, timeout=timeout)
        return self

    def wait_for(self, text: str, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.host.name}/{self.name} exited: {self.log()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{self.host.name}/{self.name} not ready after {timeout}s: {self.log()[-3000:]}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def kill9(self) -> None:
        """kill -9 of the whole process group (the program and its children), no chance to clean up."""
        self.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(timeout=15)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if not self.running:
            return
        self.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()


@dataclass
class Host:
    name: str
    netns: str
    address: str
    veth: str  # the root namespace's end of the link
    var_dir: Path
    processes: dict[str, Process] = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str], env: dict[str, str], *, cwd: Path) -> Process:
        process = Process(self, name, argv, env, cwd=cwd)
        self.processes[name] = process
        return process

    def run(self, *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout=300):
        """A command to completion inside the host (its network only)."""
        result = subprocess.run(  # noqa: S603
            [IP, "netns", "exec", self.netns, *argv],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.name}: {shlex.join(argv)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def link_down(self) -> float:
        """Pull the host's cable: its link into the bridge goes down. Returns when (monotonic)."""
        sh(IP, "link", "set", self.veth, "down")
        return time.monotonic()

    def link_up(self) -> float:
        sh(IP, "link", "set", self.veth, "up")
        return time.monotonic()


class Network:
    """A bridge in the root namespace and the hosts plugged into it."""

    def __init__(self, root: Path):
        self.run_id = uuid.uuid4().hex[:5]
        self.subnet = free_subnet()
        addresses = self.subnet.hosts()
        self.gateway = str(next(addresses))
        self._addresses = addresses
        self.bridge = f"omsbr{self.run_id}"
        self.root = root
        self.hosts: dict[str, Host] = {}
        self._made: list[tuple[str, ...]] = []  # how to undo each thing made, in order

    def create(self) -> None:
        sh(IP, "link", "add", self.bridge, "type", "bridge")
        self._made.append((IP, "link", "del", self.bridge))
        sh(IP, "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        sh(IP, "link", "set", self.bridge, "up")

    def add_host(self, name: str) -> Host:
        index = len(self.hosts)
        address = str(next(self._addresses))
        netns = f"oms-{self.run_id}-{name}"
        veth, peer = f"oms{self.run_id}h{index}", f"oms{self.run_id}p{index}"
        var_dir = self.root / name
        var_dir.mkdir(parents=True)
        host = Host(name=name, netns=netns, address=address, veth=veth, var_dir=var_dir)
        self.hosts[name] = host
        sh(IP, "netns", "add", netns)
        self._made.append((IP, "netns", "del", netns))
        sh(IP, "link", "add", veth, "type", "veth", "peer", "name", peer)
        self._made.append((IP, "link", "del", veth))  # takes its peer along, wherever it is
        sh(IP, "link", "set", peer, "netns", netns)
        sh(IP, "-n", netns, "link", "set", peer, "name", "eth0")
        sh(IP, "-n", netns, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        sh(IP, "-n", netns, "link", "set", "eth0", "up")
        sh(IP, "-n", netns, "link", "set", "lo", "up")
        sh(IP, "link", "set", veth, "master", self.bridge)
        sh(IP, "link", "set", veth, "up")
        return host

    def destroy(self) -> list[str]:
        """Stop every process, then delete what this run made, newest first. Returns what failed."""
        problems = []
        for host in self.hosts.values():
            for process in host.processes.values():
                try:
                    process.stop(timeout=10)
                except Exception as exc:  # noqa: BLE001 - tear down everything else regardless
                    problems.append(f"{host.name}/{process.name}: {exc}")
        for args in reversed(self._made):
            result = sh(*args, check=False)
            # A veth goes with its namespace's end: already gone is fine.
            if result.returncode != 0 and "Cannot find device" not in result.stderr:
                problems.append(f"{shlex.join(args)}: {result.stderr.strip()}")
        self._made.clear()
        return problems
