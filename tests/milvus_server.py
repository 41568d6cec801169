"""A real Milvus 2.3.5 standalone server for tests, benchmarks and CI.

``.ci/milvus-setup`` installs it into ``.venv-milvus``. The ``milvus-server`` console script is a
Python wrapper that writes ``DIR/configs/milvus.yaml`` and runs the Go ``milvus`` binary as its
child. What this class does and why (details in /work/shared/notes/milvus.md):

* every port is pinned to a block of twelve: the wrapper silently moves a busy port to the next free
  one, and a restart that comes up on other ports can panic with
  ``unknown service milvus.proto.query.QueryCoord``. The wrapper's ``--etcd-port`` does not reach
  the embedded etcd, which listens on 2379 and 2380 whatever it says (a second server then dies
  with "bind: address already in use"): an etcd config file named by ``ETCD_CONFIG_PATH`` (Milvus
  reads its settings from the environment too) moves both into the block;
* every role advertises 127.0.0.1, or it registers the machine's external address;
* stop sends SIGTERM to the ``milvus`` child and waits for it: the wrapper's own stop SIGKILLs
  after 1 s and never reaps its child;
* the wrapper runs with two changes (``_LAUNCHER``): its "is this port free" probe sets
  SO_REUSEADDR (after a SIGKILL the server side of old connections sits in TIME_WAIT for 60 s, the
  plain probe fails and the wrapper moves pinned ports elsewhere, while the Go binary itself binds
  with SO_REUSEADDR and could use them at once), and its metrics/healthz port (no flag; 9091 or the
  next free one) starts at the block's last port.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MILVUS_SERVER = ROOT / ".venv-milvus" / "bin" / "milvus-server"
SETUP_HINT = "run `.ci/milvus-setup` (installs milvus==2.3.5 into .venv-milvus)"

# Offsets within a block; a developer's own server on the defaults (2379, 19530, ...) is never hit
# because blocks start at FIRST_BASE, below Linux's ephemeral range (32768+).
# The first ten have wrapper flags (--etcd-port, ...); etcd-peer and metrics are set as described above.
PORTS = (
    "etcd",
    "root-coord",
    "proxy",
    "proxy-internal",
    "query-coord",
    "query-node",
    "index-coord",
    "index-node",
    "data-coord",
    "data-node",
    "etcd-peer",
    "metrics",
)
FLAG_PORTS = PORTS[:10]
ROLES = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
FIRST_BASE, LAST_BASE, STEP = 27000, 29980, 20
LOCK_DIR = Path(os.environ.get("TMPDIR", "/tmp"))

# The `milvus-server` console script, with the wrapper's port probe made to ignore TIME_WAIT.
_LAUNCHER = """
import socket, sys, milvus

def try_bind_port(self, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock
    except OSError:
        sock.close()
        return None

milvus.MilvusServerConfig.try_bind_port = try_bind_port
milvus.default_server.webservice_port = int(sys.argv.pop(1))
sys.argv[0] = "milvus-server"
sys.exit(milvus.main())
"""

_ETCD_CONFIG = """\
name: default
listen-client-urls: http://127.0.0.1:{etcd}
advertise-client-urls: http://127.0.0.1:{etcd}
listen-peer-urls: http://127.0.0.1:{etcd-peer}
initial-advertise-peer-urls: http://127.0.0.1:{etcd-peer}
initial-cluster: default=http://127.0.0.1:{etcd-peer}
"""


class MilvusServerError(RuntimeError):
    pass


# A script that dies with a server up would leave it running in its own process group.
_RUNNING: set[MilvusServer] = set()
atexit.register(lambda: [s.stop() for s in list(_RUNNING)])


def _port_free(port: int) -> bool:
    """No one listens on ``port`` (connections in TIME_WAIT do not count, as for the Go binary)."""
    # Binding the wildcard address also fails when someone holds only 127.0.0.1:port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _lock(path: Path):
    fh = open(path, "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


class MilvusServer:
    """``MilvusServer(data_dir).start()``; ``.uri`` to connect; ``stop()``, ``kill()``, ``restart()``.

    ``base_port`` pins the twelve ports to ``base_port .. base_port+11`` (see PORTS); without it the
    first block from 27000 (in steps of 20) whose ports are all free and whose lock file no other
    process holds is taken. The lock (``$TMPDIR/rag-milvus-<base>.lock``) is held from the first
    start to ``close()``, so two test runs on one machine never share ports and a restart finds its
    block again."""

    def __init__(
        self, data_dir: str | Path, base_port: int | None = None, *, start_timeout: float = 180.0, executable: Path = MILVUS_SERVER
    ):
        self.data_dir = Path(data_dir).resolve()
        self.base_port = base_port
        self.start_timeout = start_timeout
        self.executable = Path(executable)
        self.log_path = self.data_dir / "milvus-server.log"
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._port_lock = None

    # -- addresses ---------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        if self.base_port is None:
            raise MilvusServerError("no ports chosen yet: start() the server first or pass base_port")
        return {name: self.base_port + i for i, name in enumerate(PORTS)}

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.ports()['proxy']}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> MilvusServer:
        if self.running:
            return self
        if not self.executable.exists():
            raise MilvusServerError(f"{self.executable} is missing: {SETUP_HINT}")
        self._reserve_ports()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = self.ports()
        etcd_config = self.data_dir / "configs" / "embed-etcd.yaml"
        etcd_config.parent.mkdir(exist_ok=True)
        etcd_config.write_text(_ETCD_CONFIG.replace("{etcd}", str(ports["etcd"])).replace("{etcd-peer}", str(ports["etcd-peer"])))
        python = self.executable.parent / "python"
        cmd = [str(python), "-c", _LAUNCHER, str(ports["metrics"]), "--data", str(self.data_dir)]
        cmd += [a for name in FLAG_PORTS for a in (f"--{name}-port", str(ports[name]))]
        for role in ROLES:
            cmd += ["--extra-config", f"{role}.ip=127.0.0.1"]
        # A short session TTL lets a restart after SIGKILL take over the old registrations in
        # seconds, not 30; a graceful stop that hangs gives up after 10 s, not 30 minutes.
        cmd += ["--extra-config", "common.session.ttl=5", "--extra-config", "common.gracefulStopTimeout=10"]
        # The wrapper truncates the binary's own output files at each start: keep the previous run's.
        for name in ("milvus-stdout.log", "milvus-stderr.log"):
            f = self.data_dir / "logs" / name
            if f.exists():
                f.replace(f.with_suffix(".prev.log"))
        self._log = open(self.log_path, "ab")
        shown = " ".join([f"ETCD_CONFIG_PATH={etcd_config}", "milvus-server"] + cmd[4:])
        self._log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {shown}\n".encode())
        self._log.flush()
        # One start at a time on this machine: the wrapper probes ports, closes them, then the binary
        # binds them; two starts interleaved could pick the same fallback port.
        with open(LOCK_DIR / "rag-milvus-start.lock", "w") as start_lock:
            fcntl.flock(start_lock, fcntl.LOCK_EX)
            started = time.time()
            # Own process group: a Ctrl-C meant for pytest does not reach the server mid-test.
            self._proc = subprocess.Popen(
                cmd,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "ETCD_CONFIG_PATH": str(etcd_config)},
                start_new_session=True,
            )
            _RUNNING.add(self)
            try:
                self._check_config(started)
                self._wait_ready()
                self._check_listening()
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop: SIGTERM to the ``milvus`` child, wait for it, then end the wrapper."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """A crash: SIGKILL the ``milvus`` child (nothing flushed), then end the wrapper."""
        self._end(signal.SIGKILL, 10.0)

    def restart(self) -> MilvusServer:
        self.stop()
        return self.start()

    def __enter__(self) -> MilvusServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _reserve_ports(self) -> None:
        if self._port_lock is not None:
            return  # a restart keeps its block, so the data dir meets the same addresses
        bases = [self.base_port] if self.base_port is not None else range(FIRST_BASE, LAST_BASE + 1, STEP)
        for base in bases:
            lock = _lock(LOCK_DIR / f"rag-milvus-{base}.lock")
            if lock is None:
                continue
            busy = [p for p in range(base, base + len(PORTS)) if not _port_free(p)]
            if not busy:
                self.base_port, self._port_lock = base, lock
                return
            lock.close()
            if self.base_port is not None:
                raise MilvusServerError(f"ports {busy} of block {base}..{base + len(PORTS) - 1} are in use")
        if self.base_port is not None:
            raise MilvusServerError(
                f"port block {self.base_port} is locked by another process ({LOCK_DIR}/rag-milvus-{self.base_port}.lock)"
            )
        raise MilvusServerError(f"no free block of {len(PORTS)} ports between {FIRST_BASE} and {LAST_BASE + STEP - 1}")

    def _check_config(self, started: float) -> None:
        """The wrapper writes milvus.yaml before it starts the binary; refuse to go on if it moved a port."""
        cfg = self.data_dir / "configs" / "milvus.yaml"
        deadline = time.time() + 30
        while not (cfg.exists() and cfg.stat().st_mtime >= started - 1):
            if time.time() > deadline or self._proc.poll() is not None:
                raise MilvusServerError(f"milvus-server wrote no config{self._tail()}")
            time.sleep(0.1)
        time.sleep(0.2)  # written in one call, but let it finish
        written = {int(p) for p in re.findall(r"^\s*(?:port|internalPort):\s*(\d+)", cfg.read_text(), re.M)}
        written |= {int(p) for p in re.findall(r"^\s*(?:-\s*)?(?:address|endpoints):\s*localhost:(\d+)", cfg.read_text(), re.M)}
        missing = sorted({self.ports()[name] for name in FLAG_PORTS} - written)
        if missing:
            raise MilvusServerError(f"milvus-server did not take ports {missing} (busy?); see {cfg}")

    def _check_listening(self) -> None:
        """Every port of the block is ours once ready (index-coord has no server of its own in 2.3)."""
        want = {port for name, port in self.ports().items() if name != "index-coord"}
        missing = sorted(want - _listening())
        if missing:
            raise MilvusServerError(f"Milvus is up but nothing listens on {missing}: a port moved out of the block{self._tail()}")

    def _wait_ready(self) -> None:
        from pymilvus import MilvusClient

        deadline = time.time() + self.start_timeout
        last: Exception | None = None
        # pymilvus logs every refused connection with two tracebacks; while polling they are expected.
        quiet = _Quiet("pymilvus")
        while time.time() < deadline:
            if self._proc.poll() is not None:
                raise MilvusServerError(f"milvus-server exited with code {self._proc.returncode}{self._tail()}")
            try:
                with quiet:
                    client = MilvusClient(uri=self.uri, timeout=2)
                    try:
                        client.list_collections()
                        return
                    finally:
                        client.close()
            except Exception as e:
                last = e
                time.sleep(0.5)
        raise MilvusServerError(
            f"Milvus at {self.uri} not ready after {self.start_timeout:.0f} s (last error: {str(last).strip()[:300]}){self._tail()}"
        )

    def _children(self) -> list[int]:
        pid = self._proc.pid
        try:
            return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except (OSError, ValueError):
            return []

    def _end(self, sig: int, timeout: float) -> None:
        if self._proc is None:
            return
        for child in self._children():
            try:
                os.kill(child, sig)
            except ProcessLookupError:
                continue
            if not _wait_exit(child, timeout):
                os.kill(child, signal.SIGKILL)
                _wait_exit(child, 10)
        # The child is gone (or a zombie the wrapper never reaps); the wrapper only sleeps now.
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        _RUNNING.discard(self)
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop and give the port block back."""
        self.stop()
        if self._port_lock is not None:
            self._port_lock.close()
            self._port_lock = None

    def _tail(self, lines: int = 30) -> str:
        out = []
        for f in (self.log_path, self.data_dir / "logs" / "milvus-stdout.log", self.data_dir / "logs" / "milvus-stderr.log"):
            if f.exists():
                tail = f.read_text(errors="replace").splitlines()[-lines:]
                if tail:
                    out.append(f"\n--- last {len(tail)} lines of {f} ---\n" + "\n".join(tail))
        return "".join(out)


def _listening() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # LISTEN
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


class _Quiet:
    def __init__(self, name: str):
        self.logger = logging.getLogger(name)

    def __enter__(self):
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL + 1)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def _wait_exit(pid: int, timeout: float) -> bool:
    """True once ``pid`` is gone or a zombie (it is not our child, so it cannot be waited for)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


if __name__ == "__main__":  # a server for trying things by hand: python tests/milvus_server.py DIR [BASE_PORT]
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = MilvusServer(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None).start()
    print(f"Milvus ready at {server.uri} (log {server.log_path}); Ctrl-C or SIGTERM stops it", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
