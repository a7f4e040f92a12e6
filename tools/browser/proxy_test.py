#!/usr/bin/env python3
"""Lantern behind nginx and Caddy over HTTPS, driven by headless Chromium: the README's recipes,
tested. Usage: proxy_test.py BIN [CHROMIUM]

The proxy configurations are the `# recipe: NAME` blocks of README.md, taken as they are; only
the public name, the ports, the certificate and socket paths are swapped for this run's (see
`localize`). A throwaway CA signs a certificate for 127.0.0.1 and localhost; Chromium trusts it
through --ignore-certificate-errors-spki-list (the leaf's SPKI hash), Python's probe through the
CA file. For every proxy (nginx, caddy) and layout (TCP on /, path prefix /lantern/, Unix socket):
the page loads over https, its socket is wss: beside it, the greeting and an echo arrive,
permessage-deflate is negotiated end to end (ws.extensions and the 101's header as Chromium saw
it), a restart of Lantern behind the proxy is followed by a reconnect by itself, and Lantern's
log names the client the proxy forwarded (a probe from 127.0.0.9 with a made-up
X-Forwarded-For and Forwarded must be logged as peer=127.0.0.9). Each variant prints PASS or
FAIL; the exit status is 1 when any failed. Browser, Page and the small JS helpers come from
cdp_test.py (same folder), unchanged."""
import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp_test import GREETING, TIMEOUT, Browser, Failure, Page, echo_row, free_port, log  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PUBLIC_NAME = "lantern.example.org"
README_UPSTREAM = "127.0.0.1:8080"
README_SOCKET = "/run/lantern/lantern.sock"
PROBE_SOURCE = "127.0.0.9"       # the probe's own address: neither the browser's nor the proxy's
FORGED_XFF = "198.51.100.7"      # what a client claims; must never reach the log
FORGED_FORWARDED = "203.0.113.9"


def recipes(readme):
    """name -> text of every fenced block of README.md whose first line is `# recipe: NAME ...`."""
    found = {}
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", open(readme).read(), re.S | re.M):
        match = re.match(r"# recipe: ([a-z-]+)[^\n]*\n", block)
        if match:
            found[match.group(1)] = block[match.end():]
    return found


def localize(text, port, upstream, certs, snippet=None):
    """A README recipe with this run's listener, upstream (`127.0.0.1:N` or a socket path) and
    certificate in place of the README's; every swap must hit, so a README edit that moves a
    placeholder fails here instead of testing something else."""
    swaps = [(README_UPSTREAM, upstream), (README_SOCKET, upstream)]
    swaps += [("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"), ("    listen [::]:443 ssl;\n", ""),
              (f"/etc/letsencrypt/live/{PUBLIC_NAME}/fullchain.pem", certs["cert"]),
              (f"/etc/letsencrypt/live/{PUBLIC_NAME}/privkey.pem", certs["key"]),
              (f"server_name {PUBLIC_NAME};", "server_name 127.0.0.1 localhost;"),
              ("include snippets/lantern-proxy.conf;", f"include {snippet};"),
              (f"{PUBLIC_NAME} {{\n", f"https://127.0.0.1:{port} {{\n    tls {certs['cert']} {certs['key']}\n")]
    for old, new in swaps:
        text = text.replace(old, new)
    left = [p for p in (PUBLIC_NAME, "8080", "/run/lantern", ":443") if p in text]
    if left:
        raise Failure(f"recipe still names {left} after localizing:\n{text}")
    return text


def make_certs(workdir):
    """A CA and a leaf for 127.0.0.1/localhost signed by it (P-256: quick to make)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=workdir, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Lantern proxy-test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(workdir, "leaf.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "cert.pem", "-days", "2", "-extfile", "leaf.ext")
    pub = subprocess.run(["openssl", "x509", "-in", "cert.pem", "-pubkey", "-noout"], cwd=workdir,
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True,
                         capture_output=True).stdout
    return {"ca": os.path.join(workdir, "ca.pem"), "cert": os.path.join(workdir, "cert.pem"),
            "key": os.path.join(workdir, "key.pem"), "spki": base64.b64encode(hashlib.sha256(der).digest()).decode()}


def terminate(process):
    """SIGTERM, then SIGKILL after 5 s; a process already gone (or never started) is left alone."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class Lantern:
    """The binary on 127.0.0.1:port or a Unix socket, trusting the proxy, its log in a file."""

    def __init__(self, binary, workdir, port=None, socket_path=None):
        self.binary, self.port, self.socket_path = binary, port, socket_path
        self.log_path = os.path.join(workdir, "lantern.log")
        self.process = None

    def start(self):
        # As README.md starts it, minus --allow-origin: 127.0.0.1 is a local name, the same-host
        # rule holds through a proxy that passes Host on.
        where = (["--unix-socket", self.socket_path, "--unix-socket-mode", "0666", "--trust-proxy", "unix"]
                 if self.socket_path else ["--host", "127.0.0.1", "--port", str(self.port), "--trust-proxy", "127.0.0.1"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
        with open(self.log_path, "a") as log_file:
            self.process = subprocess.Popen([self.binary, *where], stdout=subprocess.PIPE, stderr=log_file,
                                            stdin=subprocess.DEVNULL, env=env, text=True)
        holder = []
        reader = threading.Thread(target=lambda: holder.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(TIMEOUT)
        if not holder or not holder[0].startswith("lantern listening on"):
            self.stop()
            raise Failure(f"lantern did not start: {holder!r}")
        log(holder[0].strip())

    def stop(self):
        """SIGTERM, as `systemctl restart` sends it: close 1001 to every socket, exit 0."""
        terminate(self.process)

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()


class Proxy:
    """nginx or caddy in the foreground with a configuration written to workdir."""

    def __init__(self, kind, workdir, port, site, snippet):
        self.kind, self.workdir, self.port = kind, workdir, port
        if kind == "nginx":
            conf = os.path.join(workdir, "nginx.conf")
            temp = "\n".join(f"    {name}_temp_path {workdir}/{name};" for name in
                             ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            with open(conf, "w") as f:
                f.write(f"daemon off;\nworker_processes 1;\npid {workdir}/nginx.pid;\nerror_log {workdir}/nginx-error.log info;\n"
                        f"events {{}}\nhttp {{\n    access_log {workdir}/nginx-access.log;\n{temp}\n{site}}}\n")
            with open(os.path.join(workdir, "lantern-proxy.conf"), "w") as f:
                f.write(snippet)
            args, env = ["nginx", "-e", f"{workdir}/nginx-error.log", "-p", workdir, "-c", conf], None
            subprocess.run([*args, "-t", "-q"], check=True)
        else:
            conf = os.path.join(workdir, "Caddyfile")
            with open(conf, "w") as f:  # global options: this run only (no admin API, no :80, no ACME)
                f.write(f"{{\n    admin off\n    auto_https disable_redirects\n    http_port {free_port()}\n"
                        f"    skip_install_trust\n    storage file_system {workdir}/caddy-data\n}}\n\n{site}")
            args = ["caddy", "run", "--adapter", "caddyfile", "--config", conf]
            env = {**os.environ, "HOME": workdir, "XDG_DATA_HOME": workdir, "XDG_CONFIG_HOME": workdir}
        self.log_file = open(os.path.join(workdir, f"{kind}.out"), "w")
        self.process = subprocess.Popen(args, stdout=self.log_file, stderr=self.log_file, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise Failure(f"{kind} exited {self.process.returncode}; see {self.log_file.name}")
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise Failure(f"{kind} not listening on {port} within {TIMEOUT} s")
                time.sleep(0.1)
        log(f"{kind} listening on 127.0.0.1:{port} (pid {self.process.pid})")

    def stop(self):
        terminate(self.process)
        self.log_file.close()


def probe(port, prefix, ca):
    """A WebSocket handshake through the proxy from PROBE_SOURCE, claiming other addresses in
    X-Forwarded-For and Forwarded; returns the status line."""
    raw = socket.socket()
    raw.settimeout(TIMEOUT)
    raw.bind((PROBE_SOURCE, 0))
    raw.connect(("127.0.0.1", port))
    with ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        key = base64.b64encode(os.urandom(16)).decode()
        tls.sendall((f"GET {prefix}/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     f"X-Forwarded-For: {FORGED_XFF}\r\nForwarded: for={FORGED_FORWARDED}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = tls.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.split(b"\r\n", 1)[0].decode(errors="replace")


def wait_log(lantern, pattern, what):
    deadline = time.monotonic() + TIMEOUT
    while not re.search(pattern, lantern.log_text(), re.M):
        if time.monotonic() > deadline:
            raise Failure(f"no log line for {what} ({pattern!r}); log tail: {lantern.log_text()[-600:]!r}")
        time.sleep(0.1)


def handshake_extensions(browser, since):
    """Sec-WebSocket-Extensions of the last 101 Chromium received after event number `since`."""
    value = None
    for event in browser.events[since:]:
        if event.get("method") == "Network.webSocketHandshakeResponseReceived":
            headers = event["params"]["response"].get("headers", {})
            value = next((v for k, v in headers.items() if k.lower() == "sec-websocket-extensions"), "")
    return value


def greetings(count):
    return ("[...document.querySelectorAll('#messages li.received .text')]"
            f".filter(e => e.textContent === {repr(GREETING)}).length >= {count}")


OPEN = "document.getElementById('status').dataset.state === 'open'"


def variant(name, kind, layout, text, binary, browser, page, certs):
    """One proxy in one layout, from start to cleanup; raises Failure on the first failed check."""
    workdir = tempfile.mkdtemp(prefix=f"lantern-{name}-")
    os.chmod(workdir, 0o755)  # nginx's workers (nobody) reach the socket in it, as /run/lantern
    prefix = "/lantern" if layout == "prefix" else ""
    port = free_port()
    lantern = (Lantern(binary, workdir, socket_path=os.path.join(workdir, "lantern.sock")) if layout == "unix"
               else Lantern(binary, workdir, port=free_port()))
    upstream = lantern.socket_path or f"127.0.0.1:{lantern.port}"
    snippet = os.path.join(workdir, "lantern-proxy.conf")
    if kind == "nginx":
        site = text["nginx-site"]
        if layout != "tcp":
            site, swapped = re.subn(r"    location / \{\n.*?\n    \}\n", lambda _: text[f"nginx-{layout}"], site, flags=re.S)
            if swapped != 1:
                raise Failure("no `location / { ... }` in the nginx-site recipe to swap")
        site = localize(site, port, upstream, certs, snippet)
    else:
        site = localize(text["caddy" if layout == "tcp" else f"caddy-{layout}"], port, upstream, certs)
    proxy = None

    def check(what, condition, detail=""):
        log(("ok   " if condition else "FAIL ") + f"{name}: {what}" + (f" ({detail})" if detail else ""))
        if not condition:
            raise Failure(f"{what}" + (f": {detail}" if detail else ""))

    try:
        lantern.start()
        proxy = Proxy(kind, workdir, port, site, localize(text["nginx-snippet"], port, upstream, certs))
        since = len(browser.events)
        # 1. The page over https (under the prefix: from the bare prefix, through both redirects).
        page.call("Page.navigate", {"url": f"https://127.0.0.1:{port}{prefix}/"})
        page.wait_for("the page", f"location.pathname === '{prefix}/client' && document.readyState === 'complete'")
        check("page loads over https", page.eval("location.protocol + document.title") == "https:Lantern echo")
        check("style sheet loads", page.eval("document.styleSheets.length === 1 && document.styleSheets[0].cssRules.length > 0"))
        endpoint = page.eval("document.getElementById('endpoint').textContent")
        check("socket is wss: beside the page", endpoint == f"wss://127.0.0.1:{port}{prefix}/ws", endpoint)
        # 2. Greeting and echo through the proxy.
        page.wait_for("the greeting", greetings(1))
        page.wait_for("status open", OPEN)
        page.type_and_enter(f"hello through {name}")
        rtt = page.wait_for("the echo", echo_row(f"hello through {name}"))
        check("greeting and echo", rtt, rtt)
        # 3. permessage-deflate end to end: the page's ws.extensions and the 101 Chromium got.
        extensions = page.eval("document.getElementById('compression').dataset.extensions")
        check("ws.extensions has permessage-deflate", "permessage-deflate" in (extensions or ""), extensions)
        header = handshake_extensions(browser, since)
        check("101 carries Sec-WebSocket-Extensions: permessage-deflate", "permessage-deflate" in (header or ""), header)
        # 4. The log names the client the proxy forwarded: the browser's socket, and a probe from
        #    another loopback address whose made-up claims must be passed over.
        wait_log(lantern, r"ws-open .*peer=127\.0\.0\.1\b", "the browser's socket")
        status = probe(port, prefix, certs["ca"])
        check("probe from 127.0.0.9 upgraded", " 101 " in status + " ", status)
        wait_log(lantern, rf"ws-open .*peer={re.escape(PROBE_SOURCE)}\b", "the probe's socket")
        logged = lantern.log_text()
        check("log shows peer=127.0.0.9, no forged address",
              FORGED_XFF not in logged and FORGED_FORWARDED not in logged and "peer=unix" not in logged,
              re.findall(r"ws-open .*", logged)[-1])
        # 5. Lantern restarts behind the proxy: the page notices and reconnects by itself.
        lantern.stop()
        page.wait_for("status closed", "document.getElementById('status').dataset.state === 'closed'")
        lantern.start()
        page.wait_for("the reconnect", greetings(2) + " && " + OPEN, timeout=30)
        page.type_and_enter("after restart")
        check("reconnects after a restart of Lantern", page.wait_for("the echo after the restart", echo_row("after restart")))
    finally:
        if proxy:
            proxy.stop()
        lantern.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def run(binary, chromium):
    text = recipes(os.path.join(ROOT, "README.md"))
    wanted = ["nginx-snippet", "nginx-site", "nginx-prefix", "nginx-unix", "caddy", "caddy-prefix", "caddy-unix"]
    missing = [n for n in wanted if n not in text]
    if missing:
        print(f"proxy-test: README.md has no recipe {missing}", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="lantern-proxy-test-")
    certs = make_certs(workdir)
    # Chromium with the leaf's key pinned: cdp_test's Browser takes an executable, so a wrapper adds the flag.
    wrapper = os.path.join(workdir, "chromium")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec {chromium} --ignore-certificate-errors-spki-list={certs['spki']} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    profile = os.path.join(workdir, "profile")
    os.makedirs(profile)
    browser = Browser(wrapper, profile)
    results = []
    try:
        page = Page(browser)
        for kind in ("nginx", "caddy"):
            for layout in ("tcp", "prefix", "unix"):
                name = kind if layout == "tcp" else f"{kind}-{layout}"
                started = time.monotonic()
                try:
                    variant(name, kind, layout, text, binary, browser, page, certs)
                    results.append((name, "PASS", ""))
                except (Failure, OSError, subprocess.CalledProcessError) as failure:
                    results.append((name, "FAIL", str(failure).splitlines()[0] if str(failure) else repr(failure)))
                log(f"{results[-1][1]} {name} ({time.monotonic() - started:.1f} s)")
    finally:
        browser.close()
        shutil.rmtree(workdir, ignore_errors=True)
    for name, verdict, why in results:
        print(f"proxy-test: {verdict} {name}" + (f": {why}" if why else ""))
    failed = sum(1 for r in results if r[1] == "FAIL")
    print(f"proxy-test: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: proxy_test.py BIN [CHROMIUM]")
    sys.exit(run(os.path.abspath(sys.argv[1]), shutil.which(sys.argv[2] if len(sys.argv) > 2 else "chromium")))
