"""Start N `streamlit run app.py` replicas on loopback ports and nginx in front of them; stop
everything on Ctrl-C (SIGINT) or SIGTERM.

    python deploy/run_replicas.py                       # 2 replicas, proxy on http://127.0.0.1:8080
    python deploy/run_replicas.py --replicas 4 --port 80 --address 0.0.0.0

The replicas listen on 127.0.0.1 only (ports --first-replica-port, +1, ...); nginx listens on
--address:--port with the config deploy/nginx.conf.template filled in (session affinity by a
cookie, WebSocket pass-through; deploy/README.md says why). All replicas share one
server.cookieSecret ($BPTT_COOKIE_SECRET, or a random one for this run). While it runs, every
replica's /_stcore/health is polled; a replica whose process died is started again.

Prints one line per replica (`replica N: pid P port Q`), `nginx: pid P`, then
`ready: http://ADDRESS:PORT`; the generated config and every log are in --workdir.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
COOKIE = "bptt_replica"
HEALTH = "/_stcore/health"
START_TIMEOUT_S = 90.0          # a replica's first import of plotly/pandas takes seconds on a busy machine
POLL_S = 5.0
MAX_RESTARTS = 3                # per replica: a replica that keeps dying is left down (and said so)


@dataclass
class Replica:
    """One `streamlit run` process on 127.0.0.1:port (proc None until started)."""
    index: int
    port: int
    proc: subprocess.Popen | None = None
    restarts: int = 0
    log: Path = field(default=Path(os.devnull))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_ports(count: int) -> int:
    """A port p with p .. p + count - 1 free on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + count <= 65536 and all(port_is_free(first + i) for i in range(1, count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def say(line: str) -> None:
    print(line, flush=True)


def die_with_parent() -> None:
    """In the child: be sent SIGTERM if this script dies (even by SIGKILL), so no replica or
    nginx outlives it. Linux only; elsewhere a no-op."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except OSError:
        pass


def raise_open_files_limit(wanted: int = 8192) -> None:
    """Raise this process's soft limit on open files (inherited by nginx and the replicas) up to
    the hard limit: a viewer holds a socket in nginx twice and once in its replica, and a
    shell's usual soft limit of 1024 would cap a hall at a few hundred viewers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def render_config(*, listen: str, ports: list[int], workdir: Path, tempdir: Path) -> str:
    """nginx.conf text: the template with the listen address, one upstream line per replica port,
    the work dir (config, logs) and the workers' temp dir filled in. As root, nginx's workers
    drop to nobody."""
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports)
    fields = {"USER": "user nobody nogroup;" if os.geteuid() == 0 else "", "WORKDIR": str(workdir),
              "TEMPDIR": str(tempdir), "LISTEN": listen, "SERVERS": servers, "COOKIE": COOKIE}
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace("{{" + name + "}}", value)
    left = re.findall(r"\{\{[A-Z]+\}\}", text)
    assert not left, f"fields of nginx.conf.template left unfilled: {left}"
    return text


def start_replica(replica: Replica, *, app: str, cookie_secret: str, workdir: Path) -> None:
    replica.log = workdir / f"replica-{replica.index}.log"
    with open(replica.log, "a") as log:
        replica.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(replica.port),
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret},
            start_new_session=True, preexec_fn=die_with_parent)
    say(f"replica {replica.index}: pid {replica.proc.pid} port {replica.port}")


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def wait_healthy(replicas: list[Replica], stop: threading.Event) -> None:
    """Block until every replica answers its health check; raise if one exits or is too slow."""
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(replicas)
    while waiting:
        for replica in list(waiting):
            if replica.proc.poll() is not None:
                raise RuntimeError(f"replica {replica.index} exited with code {replica.proc.returncode}; "
                                   f"see {replica.log}")
            if healthy(replica.url):
                waiting.remove(replica)
        if stop.is_set():
            raise KeyboardInterrupt
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer from {HEALTH} of replica(s) "
                               f"{[r.index for r in waiting]} within {START_TIMEOUT_S:.0f} s")
        if waiting:
            time.sleep(0.3)


def start_nginx(nginx: str, conf: Path, workdir: Path) -> subprocess.Popen:
    # -e: the error log before the config is read (a stock build would open /var/log/nginx/)
    log = open(workdir / "nginx-stderr.log", "a")
    proc = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "nginx-error.log"),
                             "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)
    log.close()
    say(f"nginx: pid {proc.pid}")
    return proc


def wait_proxy(url: str, nginx: subprocess.Popen, workdir: Path) -> None:
    deadline = time.monotonic() + 20
    while not healthy(url):
        if nginx.poll() is not None:
            errors = (workdir / "nginx-error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"nginx exited with code {nginx.returncode}:\n{errors}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nginx did not answer {url}{HEALTH} within 20 s")
        time.sleep(0.2)


def supervise(replicas: list[Replica], nginx: subprocess.Popen, stop: threading.Event, **start) -> bool:
    """Until `stop` (then True): poll each replica's health; start again one whose process died
    (at most MAX_RESTARTS times). False at once if nginx itself exits."""
    while not stop.wait(POLL_S):
        if nginx.poll() is not None:
            say(f"nginx exited with code {nginx.returncode}: stopping")
            return False
        for replica in replicas:
            code = replica.proc.poll()
            if code is None:
                if not healthy(replica.url, timeout=POLL_S):
                    say(f"replica {replica.index}: no answer from {HEALTH}")
            elif replica.restarts < MAX_RESTARTS:
                replica.restarts += 1
                say(f"replica {replica.index}: exited with code {code}, starting it again")
                start_replica(replica, **start)
    return True


def stop_all(replicas: list[Replica], nginx: subprocess.Popen | None) -> None:
    """nginx first (no new connections), then every replica; SIGTERM, wait, SIGKILL if stuck."""
    procs = ([nginx] if nginx else []) + [r.proc for r in replicas if r.proc]
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT if proc is nginx else signal.SIGTERM)   # nginx: graceful
    deadline = time.monotonic() + 15                 # streamlit needs 1-3 s to exit
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    say("stopped")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="streamlit processes (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="the proxy's port (default 8080)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="the proxy's address (default 127.0.0.1; 0.0.0.0 to serve others)")
    parser.add_argument("--first-replica-port", type=int, default=8501,
                        help="replica i listens on 127.0.0.1:(this + i - 1) (default 8501)")
    parser.add_argument("--app", default="app.py", help="the script, relative to the repository")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx", help="nginx binary")
    parser.add_argument("--workdir", type=Path, help="config, logs, pid (default: a new temporary dir)")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    if not os.access(args.nginx, os.X_OK):
        parser.error(f"no nginx at {args.nginx!r}: install Debian's nginx-light (or pass --nginx)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="bptt-deploy-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # the workers' temp files: in the system's temp dir, which nobody can reach, whatever the
    # work dir's parents allow (nginx's master creates the subfolders and gives them to nobody)
    tempdir = Path(tempfile.mkdtemp(prefix="bptt-nginx-"))
    tempdir.chmod(0o711)
    raise_open_files_limit()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    start = {"app": args.app, "workdir": workdir,
             "cookie_secret": os.environ.get("BPTT_COOKIE_SECRET") or secrets.token_hex(32)}
    replicas = [Replica(i + 1, args.first_replica_port + i) for i in range(args.replicas)]
    nginx = None
    try:
        for replica in replicas:
            start_replica(replica, **start)
        wait_healthy(replicas, stop)
        conf = workdir / "nginx.conf"
        conf.write_text(render_config(listen=f"{args.address}:{args.port}", ports=[r.port for r in replicas],
                                      workdir=workdir, tempdir=tempdir))
        nginx = start_nginx(args.nginx, conf, workdir)
        host = "127.0.0.1" if args.address == "0.0.0.0" else args.address
        wait_proxy(f"http://{host}:{args.port}", nginx, workdir)
        say(f"ready: http://{args.address}:{args.port} (logs in {workdir})")
        if not supervise(replicas, nginx, stop, **start):
            return 1
    except KeyboardInterrupt:
        pass
    except RuntimeError as error:
        say(f"error: {error}")
        return 1
    finally:
        stop_all(replicas, nginx)
        shutil.rmtree(tempdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
