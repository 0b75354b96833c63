"""deploy/: two replicas behind nginx, started by deploy/run_replicas.py on free loopback ports
and driven through the proxy in headless Chromium (issue 17). Checks that the websocket passes
the proxy (a sidebar slider reruns the page, the heatmaps and the URL follow), that a session
stays on its replica (a download button's /media/ file and an upload reach the process holding
the session, while requests without the affinity cookie are spread over both), that an XSRF
token issued by one replica is accepted by another, that a viewer whose replica dies goes on on
the other one with the view of its link while the dead replica is started again, and that
Ctrl-C stops every process (all skipped where nginx is not installed). Without docker, the
Dockerfile is checked for what it copies."""
from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, assert_no_exception, plotly_figures, wait_idle
from deploy.run_replicas import free_ports
from tests.e2e.server import IDLE, REPO, streamlit_server

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
SCRIPT = REPO / "deploy" / "run_replicas.py"
COOKIE = "bptt_replica"
READY_S = 150            # two replicas importing plotly and pandas at once on a busy 2-core machine
LINK = "model?T=20&H=16"


def deployed(test):
    """A browser or HTTP test of the running deployment: e2e, and skipped without nginx."""
    reason = "nginx is not installed (Debian: apt-get install nginx-light)"
    return pytest.mark.e2e(pytest.mark.skipif(NGINX is None, reason=reason)(test))


@dataclass
class Deployment:
    """The running `deploy/run_replicas.py --replicas 2` and what it printed."""
    proc: subprocess.Popen
    url: str
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None     # appends the script's output to `lines`

    def pids(self, name: str) -> list[int]:
        """The pids printed as '<name> ...: pid P', in order (a restarted replica adds one)."""
        return [int(m.group(1)) for line in list(self.lines) if line.startswith(name)
                for m in [re.search(r"pid (\d+)", line)] if m]

    def replica_urls(self) -> list[str]:
        ports = dict.fromkeys(int(m.group(1)) for line in list(self.lines)
                              for m in [re.match(r"replica \d+: pid \d+ port (\d+)", line)] if m)
        return [f"http://127.0.0.1:{port}" for port in ports]

    def wait_for_line(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            if self.reader is not None and not self.reader.is_alive():    # all its output is read
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s: {self.lines}")


def nobody_listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (nginx's workers, anything a replica started), from /proc."""
    found: set[int] = set()
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in map(int, children):
        found |= {child} | descendants(child)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """deploy/run_replicas.py with 2 replicas and nginx on free loopback ports; its work dir
    (config, logs) under pytest's tmp dir. Stopped with SIGINT, as Ctrl-C does, at the end."""
    workdir = tmp_path_factory.mktemp("deploy")
    proxy_port, first = free_ports(2), free_ports(2)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--replicas", "2", "--port", str(proxy_port),
         "--first-replica-port", str(first), "--workdir", str(workdir), "--nginx", NGINX],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    running = Deployment(proc, f"http://127.0.0.1:{proxy_port}")
    running.reader = threading.Thread(target=lambda: running.lines.extend(line.rstrip() for line in proc.stdout),
                                      daemon=True)
    running.reader.start()
    try:
        running.wait_for_line(r"^ready: ", READY_S)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def open_link(page, url: str) -> None:
    page.goto(url)
    page.get_by_test_id("stSidebar").get_by_test_id("stSlider").first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)


def w_hh_shape(page) -> tuple[int, ...]:
    """The shape of the W_hh heatmap on the Model & weights page: (H, H)."""
    traces = plotly_figures(page)[0]["data"]
    return np.array(next(t["z"] for t in traces if t.get("name") == "W<sub>hh</sub>")).shape


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET without cookies of its own; an HTTP error is a status,
    no answer (connection refused) status 0."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except urllib.error.URLError:
        return 0, {}, b""


def put_upload(url: str, xsrf_cookie: str, xsrf_header: str | None) -> int:
    """Status of a file upload PUT to a session that does not exist on `url`'s replica."""
    boundary = "bptt"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.json\"\r\n"
            f"Content-Type: application/json\r\n\r\n{{}}\r\n--{boundary}--\r\n").encode()
    headers = {"Cookie": f"_streamlit_xsrf={xsrf_cookie}",
               "Content-Type": f"multipart/form-data; boundary={boundary}"}
    if xsrf_header is not None:
        headers["X-Xsrftoken"] = xsrf_header
    request = urllib.request.Request(f"{url}/_stcore/upload_file/no-such-session/file-1", data=body,
                                     headers=headers, method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def xsrf_cookie_of(url: str) -> str:
    """The _streamlit_xsrf cookie a replica gives a new visitor (its health route sets it)."""
    _, headers, _ = get(f"{url}/_stcore/health")
    match = re.search(r"_streamlit_xsrf=([^;]+)", headers.get("set-cookie", ""))
    assert match, f"no XSRF cookie from {url}: {headers}"
    return match.group(1)


# ---- the tests, in the order a deployment lives --------------------------------------------------

@deployed
def test_the_proxy_sets_an_affinity_cookie_once_and_answers_health_checks(deployment):
    workdir = re.search(r"logs in (.+)\)$", deployment.wait_for_line(r"^ready: ", 1)).group(1)
    conf = (Path(workdir) / "nginx.conf").read_text()
    assert "hash $replica_key consistent" in conf
    assert len(re.findall(r"^ +server 127\.0\.0\.1:\d+ ", conf, re.M)) == 2       # one line per replica
    assert "proxy_set_header Upgrade $http_upgrade" in conf and "proxy_read_timeout 1d" in conf
    status, headers, body = get(f"{deployment.url}/{LINK}")
    assert status == 200 and b"<html" in body.lower()
    assert re.match(rf"{COOKIE}=[0-9a-f]{{32}}; Path=/", headers["Set-Cookie"])   # a new browser's key
    status, headers, _ = get(f"{deployment.url}/{LINK}", {"Cookie": f"{COOKIE}=abc"})
    assert status == 200 and "Set-Cookie" not in headers                      # a known browser keeps its own
    status, _, body = get(f"{deployment.url}/_stcore/health")
    assert (status, body) == (200, b"ok")


@deployed
def test_a_share_link_through_the_proxy_reruns_on_a_slider_move(deployment, page):
    open_link(page, f"{deployment.url}/{LINK}")
    assert query(page) == {"T": "20", "H": "16"}
    assert w_hh_shape(page) == (16, 16)
    thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(has_text="Hidden units H") \
        .locator('input[type="range"]')
    thumb.focus()
    page.keyboard.press("ArrowRight")              # a widget change travels up the websocket ...
    page.wait_for_function("() => new URLSearchParams(location.search).get('H') === '17'", timeout=TIMEOUT_MS)
    wait_idle(page)                                # ... and the rerun's elements come back down it
    expect(thumb).to_have_value("17")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while w_hh_shape(page) != (17, 17):            # plotly may redraw after the script finished
        assert time.monotonic() < deadline, "the heatmaps were not redrawn for H = 17"
        time.sleep(0.2)
    assert query(page) == {"T": "20", "H": "17"}
    assert_no_exception(page)
    assert any(c["name"] == COOKIE for c in page.context.cookies())


@deployed
def test_a_download_and_an_upload_reach_the_replica_holding_the_session(deployment, page):
    # Weights of its own (seed 5: a media file's name is its content's hash, and no other test
    # leaves this one on a replica); H = 64 makes the upload (~35 kB) larger than nginx's
    # in-memory body buffer (16 kB), so it passes through the workers' temp files.
    open_link(page, f"{deployment.url}/model?T=20&H=64&seed=5")
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="Download .npz").click()
    download = info.value
    arrays = dict(np.load(download.path()))
    assert arrays["W_hh"].shape == (64, 64)
    media = download.url
    assert urlsplit(media).path.startswith("/media/")
    # the browser, with its affinity cookie, finds the file every time on its replica ...
    assert {page.request.get(media).status for _ in range(12)} == {200}
    # ... a client without it is sent to either replica: one of them never held this file
    assert 404 in {get(media)[0] for _ in range(16)}, "requests without the cookie all went to one replica"

    arrays["W_hh"][0, 0] = 0.25
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    assert buffer.tell() > 16 * 1024
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "edited.npz", "mimeType": "application/octet-stream", "buffer": buffer.getvalue()}])
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Loaded the weights of 'edited.npz'",
                                                                         timeout=TIMEOUT_MS)
    page.wait_for_function("() => new URLSearchParams(location.search).get('edits') === 'W_hh.0=0.25'",
                           timeout=TIMEOUT_MS)
    assert_no_exception(page)


@deployed
def test_an_xsrf_token_of_one_replica_is_accepted_by_another(deployment):
    """A browser moved to another replica keeps its XSRF cookie: the replicas (sharing one
    cookieSecret here) accept each other's. 400 = the token passed, the session is unknown."""
    first, second = deployment.replica_urls()
    token = xsrf_cookie_of(first)
    assert put_upload(second, token, token) == 400
    assert put_upload(second, token, None) == 403 and put_upload(second, token, "2|00|00|0") == 403
    # Streamlit 1.67 checks the token against the cookie alone (double submit): even a server with
    # another cookieSecret accepts it. The recipe shares the secret anyway, for signed cookies (st.login).
    with streamlit_server("app.py", env={"STREAMLIT_SERVER_COOKIE_SECRET": "another-secret"}) as (other, _):
        assert put_upload(other, token, token) == 400


@deployed
def test_a_viewer_whose_replica_dies_moves_to_the_other_with_the_view_of_its_link(deployment, page):
    # a seed of its own: no other test's session left a file of these weights on a replica
    open_link(page, f"{deployment.url}/model?T=20&H=16&seed=11")
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="Download .npz").click()
    media = urlsplit(info.value.url).path
    holders = [i for i, url in enumerate(deployment.replica_urls(), 1) if get(url + media)[0] == 200]
    assert len(holders) == 1, f"the session's file should be on one replica: {holders}"
    victim = deployment.pids(f"replica {holders[0]}")[-1]
    os.kill(victim, signal.SIGKILL)
    for _ in range(8):                                                # the other replica answers
        assert get(f"{deployment.url}/_stcore/health")[0] == 200
    # The tab reconnects to the other replica; its next move starts a session there from the
    # URL (that first move is not applied: the slider returns to the link's T; deploy/README.md).
    thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(has_text="Sequence length T") \
        .locator('input[type="range"]')
    for _ in range(3):
        thumb.focus()
        page.keyboard.press("ArrowRight")
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not (page.locator(IDLE).count() and query(page)["T"] == thumb.input_value()):
            assert time.monotonic() < deadline, "the slider and the URL never agreed again"
            time.sleep(0.3)
        if query(page)["T"] != "20":
            break
    assert int(query(page)["T"]) > 20 and query(page)["H"] == "16" and query(page)["seed"] == "11"
    assert_no_exception(page)
    deployment.wait_for_line(rf"^replica {holders[0]}: exited with code -9, starting it again", 30)
    deadline = time.monotonic() + READY_S
    while get(f"{deployment.replica_urls()[holders[0] - 1]}/_stcore/health")[0] != 200:
        assert time.monotonic() < deadline, "the restarted replica never answered"
        time.sleep(0.5)
    assert deployment.pids(f"replica {holders[0]}")[-1] != victim


@deployed
def test_ctrl_c_stops_every_process(deployment):
    started = [deployment.proc.pid, *deployment.pids("replica"), *deployment.pids("nginx")]
    below = descendants(deployment.proc.pid)
    assert len(below) >= 4, f"expected 2 replicas, nginx and its workers below the script: {below}"
    deployment.proc.send_signal(signal.SIGINT)
    assert deployment.proc.wait(timeout=30) == 0
    deployment.reader.join(timeout=5)
    assert deployment.lines[-1] == "stopped"
    time.sleep(0.5)                                       # nginx's workers leave after their master
    assert [pid for pid in {*started, *below} if alive(pid)] == []
    ports = [int(urlsplit(u).port) for u in deployment.replica_urls()] + [urlsplit(deployment.url).port]
    assert [port for port in ports if not nobody_listens(port)] == []


def test_the_dockerfile_copies_only_files_that_exist_and_are_sent_to_the_build():
    """No docker here: check that every COPY source exists in the repository and is let through
    by deploy/Dockerfile.dockerignore, and that the image runs the script this module tests."""
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    ignore = [line.strip() for line in (REPO / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    sources = [src for line in dockerfile.splitlines() if line.startswith("COPY ")
               for src in line.split()[1:-1]]
    assert {"requirements.txt", "app.py", "ui/", "views/", "rnn_core/", "deploy/"} <= set(sources)
    assert ignore[0] == "*"                                           # nothing else is sent
    for src in sources:
        assert (REPO / src).exists(), f"the Dockerfile copies {src}, which does not exist"
        assert f"!{src.rstrip('/')}" in ignore, f"{src} is not let through by Dockerfile.dockerignore"
    assert re.search(r"^FROM python:3\.\d+-slim-bookworm$", dockerfile, re.M)
    assert "apt-get install -y --no-install-recommends nginx-light" in dockerfile
    assert "exec python deploy/run_replicas.py" in dockerfile and SCRIPT.exists()
