#!/usr/bin/env python3
"""Drives headless Chromium through the DevTools protocol over a pipe (--remote-debugging-pipe:
commands on fd 3, replies on fd 4, JSON messages ended by NUL), so nothing but the standard
library and Debian's chromium is needed. Usage: cdp_test.py BIN OUTDIR [CHROMIUM]

Starts BIN on a free port, opens /client and checks what a user would see: the greeting, an echo
with its round-trip time, permessage-deflate, an HTML payload shown as text, binary messages, no
CSP violation or script error, and a reconnect by itself after the server is killed and
restarted on the same port. On the way: an echo that comes back changed (a lone surrogate) does
not cost later echoes their RTT; refused attempts get a hint; the retry countdown leaves the
status live region alone; an attempt a silent listener never answers is abandoned; Reconnect and
`online` restart an attempt still connecting; a server that closes every connection at once
(1009) sees the backoff grow; the page works behind a proxy under a path prefix; and against a server with an access token the
link with #token=… connects while the bare page says it is not allowed. Every wait is bounded; any failed check exits 1."""
import base64
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

GREETING = "Welcome to simple echo server"
HINT = "the server may be down or refusing this page"
XSS = "<img src=x onerror=\"document.title='pwned'\">"
TIMEOUT = 10.0


class Failure(Exception):
    pass


def log(message):
    print(f"[browser-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Server:
    """The lantern binary on 127.0.0.1:port, restartable on the same port."""

    def __init__(self, binary, port):
        self.binary, self.port, self.process = binary, port, None

    def start(self, extra=()):
        """extra: more command-line options for this run only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
        self.process = subprocess.Popen(
            [self.binary, "--host", "127.0.0.1", "--port", str(self.port), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, text=True)
        line_holder = []
        reader = threading.Thread(target=lambda: line_holder.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(TIMEOUT)
        line = line_holder[0] if line_holder else ""
        if not line.startswith("lantern listening on"):
            self.kill()
            raise Failure(f"server did not start on port {self.port}: {line!r}")
        log(line.strip())

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)


class Browser:
    """Chromium with a DevTools pipe; `call` sends a command and waits (bounded) for its reply."""

    def __init__(self, executable, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def wire_fds():  # runs in the child: fd 3 = commands in, fd 4 = replies out
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "about:blank"]
        self.log_file = open(os.path.join(profile, "chromium.log"), "w")
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                        stderr=self.log_file, close_fds=False, preexec_fn=wire_fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.replies = {}
        self.events = []
        self.cond = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        buffer = b""
        while True:
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self.cond:
                    if "id" in message:
                        self.replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self.cond.notify_all()

    def call(self, method, params=None, session=None, timeout=TIMEOUT):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.next_id not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"no reply to {method} within {timeout} s")
                self.cond.wait(left)
            reply = self.replies.pop(self.next_id)
        if "error" in reply:
            raise Failure(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def count(self, method):
        """How many events named `method` have arrived so far."""
        with self.cond:
            return sum(1 for e in self.events if e.get("method") == method)

    def wait_count(self, what, method, count, timeout=TIMEOUT):
        """Waits (bounded) until `count` events named `method` have arrived in all."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while sum(1 for e in self.events if e.get("method") == method) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"timed out after {timeout} s waiting for {what}")
                self.cond.wait(left)

    def close(self):
        try:
            self.call("Browser.close", timeout=3)
        except Exception:
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log_file.close()


class Page:
    def __init__(self, browser):
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):  # Network: webSocketCreated counts attempts
            self.call(f"{domain}.enable")
        # Collected from the first script on: CSP violations the page causes itself.
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source":
                  "window.__csp = []; document.addEventListener('securitypolicyviolation',"
                  " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"})

    def call(self, method, params=None, timeout=TIMEOUT):
        return self.browser.call(method, params, self.session, timeout)

    def eval(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise Failure(f"evaluating {expression!r}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, what, expression, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise Failure(f"timed out after {timeout} s waiting for {what}; status: {self.status()!r}")
            time.sleep(0.1)

    def status(self):
        return self.eval("document.getElementById('status').textContent + ' '"
                         " + document.getElementById('retry').textContent")

    def type_and_enter(self, text):
        self.eval("document.getElementById('message').focus()")
        self.call("Input.insertText", {"text": text})
        self.press_enter()

    def press_enter(self):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                 "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13,
                                                 **({"text": "\r"} if kind == "keyDown" else {})})

    def screenshot(self, path, width, height, mobile=False, dark=False):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        self.call("Emulation.setEmulatedMedia",
                  {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
        time.sleep(0.3)
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        log(f"screenshot: {path}")


class PrefixProxy:
    """A reverse proxy that serves the server under /lantern/: strips the prefix from each request
    line and splices the bytes both ways. Plain requests get "Connection: close" (one request per
    proxied connection, so every request line passes through here); upgrades pass unchanged."""

    PREFIX = b"/lantern"

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        method, target, version = lines[0].split(b" ")
        if not target.startswith(self.PREFIX + b"/"):
            client.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            client.close()
            return
        fields = lines[1:]
        if not any(f.lower().startswith(b"upgrade:") for f in fields):
            fields = [f for f in fields if not f.lower().startswith(b"connection:")] + [b"Connection: close"]
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        upstream.sendall(b"\r\n".join([b" ".join([method, target[len(self.PREFIX):], version])] + fields) + b"\r\n\r\n" + rest)

        def pump(source, sink):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    sink.sendall(data)
            except OSError:
                pass
            for end in (sink, source):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def close(self):
        self.listener.close()


def echo_row(text):
    """JS: the RTT label of the echo row whose text is `text`, or null."""
    return ("(() => { for (const li of document.querySelectorAll('#messages li.received')) {"
            f" const t = li.querySelector('.text'); if (t && t.textContent === {json.dumps(text)}) {{"
            " const r = li.querySelector('.rtt'); return r ? r.textContent : null; } } return null; })()")


def received_row(text):
    """JS: {rtt} of the received row whose text is `text` (rtt null when it shows none), or null."""
    return ("(() => { for (const li of document.querySelectorAll('#messages li.received')) {"
            f" const t = li.querySelector('.text'); if (t && t.textContent === {json.dumps(text)}) {{"
            " const r = li.querySelector('.rtt'); return {rtt: r ? r.textContent : null}; } } return null; })()")


def status_has(text):
    """JS: whether the status line contains `text`."""
    return f"document.getElementById('status').textContent.includes({json.dumps(text)})"


def retry_seconds():
    """JS: the seconds the retry countdown shows, or -1."""
    return "(m => m ? +m[1] : -1)(document.getElementById('retry').textContent.match(/(\\d+) s/))"


def silent_listener(port):
    """A socket listening on 127.0.0.1:port that never accepts: TCP connects, no HTTP answer comes."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    return listener


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# BROWSER_TEST_ONLY=program: only the page against a program (`lantern -- counter.sh`).
ONLY_PROGRAM = os.environ.get("BROWSER_TEST_ONLY") == "program"


def run(binary, outdir, chromium):
    os.makedirs(outdir, exist_ok=True)
    server = Server(binary, free_port())
    profile = tempfile.mkdtemp(prefix="lantern-chromium-")
    browser = None
    checks = []

    def check(name, condition, detail=""):
        checks.append((name, bool(condition)))
        log(("PASS " if condition else "FAIL ") + name + (f" ({detail})" if detail else ""))
        if not condition:
            raise Failure(name + (f": {detail}" if detail else ""))

    def program_step(page):
        # 13. A program behind the page (`lantern -- tools/examples/counter.sh 3`, issue 18): its
        #     first lines arrive in order, what the person types reaches its stdin and comes back
        #     numbered, and its exit (on "bye") closes the connection 1000.
        counter = Server(binary, free_port())
        try:
            counter.start(["--", os.path.abspath("tools/examples/counter.sh"), "3"])
            base = f"http://127.0.0.1:{counter.port}/client"
            page.call("Page.navigate", {"url": base})
            page.wait_for("the page against the counter", f"location.href === {json.dumps(base)} && document.readyState === 'complete'")
            page.wait_for("status open against the counter", "document.getElementById('status').dataset.state === 'open'")
            # The page's own first message is a line for the script too.
            check("the page's first message numbered", page.wait_for("4 Connection open!", received_row("4 Connection open!")))
            page.type_and_enter("hello from the page")
            check("typed line numbered by the script", page.wait_for("5 hello from the page", received_row("5 hello from the page")))
            rows = page.eval("[...document.querySelectorAll('#messages li.received .text')].map(t => t.textContent)")
            check("the script's lines in order", rows[:5] == ["1", "2", "3", "4 Connection open!", "5 hello from the page"], rows)
            page.type_and_enter("bye")
            check("bye answered", page.wait_for("6 bye", received_row("6 bye")))
            check("the script's exit closes 1000", page.wait_for(
                "the close note", "document.getElementById('messages').textContent.includes('closed (code 1000')"))
            page.screenshot(os.path.join(outdir, "client-program.png"), 900, 600)
        finally:
            counter.kill()

    try:
        if ONLY_PROGRAM:
            # The program step alone (CI runs it against the ARM builds under qemu too).
            browser = Browser(chromium, profile)
            page = Page(browser)
            page.call("Emulation.setDeviceMetricsOverride", {"width": 900, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
            program_step(page)
        else:
            server.start()
            browser = Browser(chromium, profile)
            page = Page(browser)
            page.call("Emulation.setDeviceMetricsOverride", {"width": 900, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
            url = f"http://127.0.0.1:{server.port}/client"
            page.call("Page.navigate", {"url": url})
            page.wait_for("the page to load", "document.readyState === 'complete'")
            title = page.eval("document.title")
            check("page title", title == "Lantern echo", title)

            # 1. The greeting arrives and the status says open.
            page.wait_for("the greeting", "[...document.querySelectorAll('#messages li.received .text')]"
                          f".some(e => e.textContent === {json.dumps(GREETING)})")
            check("greeting shown", True)
            page.wait_for("status open", "document.getElementById('status').dataset.state === 'open'")
            check("status open", True, page.status())
            rtt = page.wait_for("the echo of 'Connection open!'", echo_row("Connection open!"))
            check("'Connection open!' sent on open and echoed", rtt)

            # 2. Typing + Enter: the echo comes back with a round-trip time.
            page.type_and_enter("hello from chromium")
            rtt = page.wait_for("the echo with an RTT", echo_row("hello from chromium"))
            check("echo shows RTT", re.fullmatch(r"RTT \d+(\.\d)? ms", rtt), rtt)
            check("input cleared after send", page.eval("document.getElementById('message').value") == "")

            # 2b. A lone surrogate goes out (and comes back) as U+FFFD, so its echo matches nothing
            #     pending: the messages after it must still get their RTT.
            page.eval("document.getElementById('message').value = 'lone \\uD800 surrogate'")
            page.press_enter()
            page.wait_for("the lone surrogate's echo", received_row("lone \ufffd surrogate"))
            page.type_and_enter("after the surrogate")
            row = page.wait_for("the echo after the surrogate", received_row("after the surrogate"))
            check("echo after a changed echo still shows RTT", row["rtt"], row)

            # 3. permessage-deflate, as ws.extensions reports it.
            extensions = page.eval("document.getElementById('compression').dataset.extensions")
            check("ws.extensions has permessage-deflate", "permessage-deflate" in (extensions or ""), extensions)

            # 4. Markup is shown as text and never runs.
            page.type_and_enter(XSS)
            page.wait_for("the HTML payload's echo", echo_row(XSS))
            time.sleep(0.5)  # an onerror would have fired by now
            check("HTML payload shown as text", page.eval(
                "[...document.querySelectorAll('#messages .text')].filter(e => e.textContent === "
                f"{json.dumps(XSS)}).length") == 2)
            check("no <img> injected", page.eval("document.querySelectorAll('#messages img').length") == 0)
            check("title unchanged", page.eval("document.title") == title, page.eval("document.title"))

            # 5. Binary messages: byte count + hex preview, timed like text.
            page.eval("document.getElementById('binary').checked = true")
            page.type_and_enter("abc")
            page.wait_for("the binary echo", "[...document.querySelectorAll('#messages li.received.binary')]"
                          ".some(li => li.querySelector('.text').textContent === 'binary, 3 bytes: 61 62 63'"
                          " && li.querySelector('.rtt'))")
            check("binary echo as byte count + hex", True)
            page.eval("document.getElementById('binary').checked = false")

            # 6. Sending is disabled unless open.
            check("send enabled while open", page.eval("!document.getElementById('send').disabled"))

            # 7. Screenshots of the phone width and the dark scheme before the restart.
            page.screenshot(os.path.join(outdir, "client-360.png"), 360, 740, mobile=True)
            page.screenshot(os.path.join(outdir, "client-dark.png"), 900, 900, dark=True)
            page.call("Emulation.setDeviceMetricsOverride", {"width": 900, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
            width = page.eval("document.documentElement.scrollWidth")
            check("no horizontal overflow at 900 px", width <= 900, width)

            # 8. Kill the server: the page notices, disables sending, and reconnects by itself once
            #    the server is back on the same port.
            server.kill()
            page.wait_for("status closed", "document.getElementById('status').dataset.state === 'closed'")
            check("status closed after kill", True, page.status())
            check("send disabled while closed", page.eval("document.getElementById('send').disabled"))
            page.screenshot(os.path.join(outdir, "client-closed.png"), 360, 640, mobile=True)

            # 8b. Refused attempts all look like code 1006 to a page (a 403 from the Origin rule too):
            #     after three in a row the status says where to look (0.5 + 1 + 2 s of backoff).
            page.wait_for("the hint after three refused attempts", status_has(HINT), timeout=15)
            check("hint after 3 attempts that never opened", True, page.status())

            # 8c. The countdown ticks beside the status live region, never in it: across two ticks
            #     (the next retry is at least 3.2 s away) #status sees no mutation at all.
            page.eval("(() => { const status = document.getElementById('status');"
                      " const retry = document.getElementById('retry'); let shown = retry.textContent;"
                      " window.__statusMutations = 0; window.__ticks = 0;"
                      " new MutationObserver(records => { window.__statusMutations += records.length; })"
                      ".observe(status, {childList: true, characterData: true, subtree: true, attributes: true});"
                      " new MutationObserver(() => { if (retry.textContent !== shown) { shown = retry.textContent;"
                      " window.__ticks += 1; } }).observe(retry, {childList: true, characterData: true, subtree: true});"
                      " })()")
            page.wait_for("two countdown ticks", "window.__ticks >= 2", timeout=5)
            mutations = page.eval("window.__statusMutations")
            check("countdown leaves the status live region alone", mutations == 0, f"{mutations} mutations")

            # 8d. A listener that never answers the upgrade (a vanished box, a silent process) on the
            #     server's port: Reconnect and `online` still restart the hanging attempt, and the
            #     page gives it up by itself after 10 s.
            listener = silent_listener(server.port)
            try:
                created = browser.count("Network.webSocketCreated")
                page.eval("document.getElementById('reconnect').click()")
                browser.wait_count("the attempt Reconnect starts", "Network.webSocketCreated", created + 1)
                check("Reconnect usable while connecting", page.eval(
                    "document.getElementById('status').dataset.state === 'connecting'"
                    " && !document.getElementById('reconnect').disabled"), page.status())
                page.eval("window.dispatchEvent(new Event('online'))")
                browser.wait_count("a new attempt after 'online'", "Network.webSocketCreated", created + 2)
                check("'online' restarts a connecting attempt", True)
                page.wait_for("the unanswered attempt to be given up", status_has("no answer from the server"), timeout=15)
                check("unanswered attempt given up", page.eval(
                    "document.getElementById('status').dataset.state === 'closed'"), page.status())
            finally:
                listener.close()
            server.start()
            page.wait_for("the automatic reconnect", "document.getElementById('status').dataset.state === 'open'", timeout=30)
            page.wait_for("the second greeting", "[...document.querySelectorAll('#messages li.received .text')]"
                          f".filter(e => e.textContent === {json.dumps(GREETING)}).length === 2")
            check("reconnected by itself", True, page.status())
            page.type_and_enter("after restart")
            check("echo after reconnect", page.wait_for("the echo after reconnect", echo_row("after restart")))

            # 8e. A server that accepts and closes at once must see the backoff grow: with
            #     --max-message-bytes 8 the page's 16-byte "Connection open!" gets 1009 each time.
            server.kill()
            server.start(["--max-message-bytes", "8"])
            page.eval("document.getElementById('reconnect').click()")
            page.wait_for("a close with 1009", status_has("code 1009"))
            page.wait_for("a retry countdown of 3 s or more", retry_seconds() + " >= 3", timeout=15)
            check("backoff grows while each open is closed at once", True, page.status())
            server.kill()
            server.start()
            page.eval("document.getElementById('reconnect').click()")
            page.wait_for("the reconnect to the normal server", "document.getElementById('status').dataset.state === 'open'")

            # 9. The page satisfied its own Content-Security-Policy and threw nothing.
            violations = page.eval("window.__csp")
            check("no CSP violations", violations == [], violations)
            errors = [e["params"]["exceptionDetails"].get("text") for e in browser.events
                      if e.get("method") == "Runtime.exceptionThrown"]
            check("no script errors", not errors, errors)

            # 10. At 360 px nothing overflows sideways.
            page.call("Emulation.setDeviceMetricsOverride", {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
            time.sleep(0.3)
            width = page.eval("document.documentElement.scrollWidth")
            check("no horizontal overflow at 360 px", width <= 360, width)
            page.screenshot(os.path.join(outdir, "client.png"), 900, 1000)

            # 11. Behind a proxy under a path prefix the redirect, the page's files and its WebSocket
            #     stay under the prefix (all relative to the page's address).
            proxy = PrefixProxy(server.port)
            try:
                page.call("Page.navigate", {"url": f"http://127.0.0.1:{proxy.port}/lantern/"})
                page.wait_for("the redirect to the page under the prefix", "location.pathname === '/lantern/client'"
                              " && document.readyState === 'complete'")
                page.wait_for("status open under the prefix", "document.getElementById('status').dataset.state === 'open'")
                endpoint = page.eval("document.getElementById('endpoint').textContent")
                check("WebSocket under the prefix", endpoint == f"ws://127.0.0.1:{proxy.port}/lantern/ws", endpoint)
                check("echo under the prefix", page.wait_for("the echo under the prefix", echo_row("Connection open!")))
                check("style sheet under the prefix", page.eval("document.styleSheets.length === 1 && document.styleSheets[0].cssRules.length > 0"))
            finally:
                proxy.close()

            # 12. A server with an access token: the link with #token=… connects and echoes; the
            #     page alone does not connect and says why; a wrong token is told apart.
            token_dir = tempfile.mkdtemp(prefix="lantern-token-")
            token = base64.urlsafe_b64encode(os.urandom(24)).decode()
            with open(os.path.join(token_dir, "token"), "w") as f:
                f.write(token + "\n")
            guarded = Server(binary, free_port())
            try:
                guarded.start(["--access-token-file", os.path.join(token_dir, "token")])
                base = f"http://127.0.0.1:{guarded.port}/client"
                page.call("Page.navigate", {"url": base + "#token=" + token})
                # The new document first: until it is parsed there is no #status to ask.
                page.wait_for("the page with the token", f"location.href.startsWith({json.dumps(base)}) && document.readyState === 'complete'")
                page.wait_for("status open with the token", "document.getElementById('status').dataset.state === 'open'")
                check("link with #token connects", True, page.status())
                check("echo with the token", page.wait_for("the echo with the token", echo_row("Connection open!")))
                page.type_and_enter("guarded hello")
                check("typed echo with the token", page.wait_for("the typed echo with the token", echo_row("guarded hello")))
                page.call("Page.navigate", {"url": "about:blank"})
                page.call("Page.navigate", {"url": base})
                page.wait_for("the page without a token", f"location.href === {json.dumps(base)} && document.readyState === 'complete'")
                page.wait_for("the not-allowed message", status_has("Not allowed: open the link with its #token="), timeout=15)
                check("without the token: not connected, says why",
                      page.eval("document.getElementById('status').dataset.state") != "open", page.status())
                page.screenshot(os.path.join(outdir, "client-no-token.png"), 900, 600)
                page.call("Page.navigate", {"url": "about:blank"})
                page.call("Page.navigate", {"url": base + "#token=" + "x" * 24})
                page.wait_for("the page with a wrong token", "location.hash.length > 1 && document.readyState === 'complete'"
                              " && document.getElementById('status') !== null")
                page.wait_for("the wrong-token message", status_has("the #token=… part of this link is wrong"), timeout=15)
                check("a wrong token is told apart", True, page.status())
                violations = page.eval("window.__csp")
                check("no CSP violations with a token", violations == [], violations)
                errors = [e["params"]["exceptionDetails"].get("text") for e in browser.events
                          if e.get("method") == "Runtime.exceptionThrown"]
                check("no script errors with a token", not errors, errors)
            finally:
                guarded.kill()
                shutil.rmtree(token_dir, ignore_errors=True)
            program_step(page)
    except Failure as failure:
        log(f"FAILED: {failure}")
        return 1
    finally:
        if browser:
            browser.close()
        server.kill()
        shutil.rmtree(profile, ignore_errors=True)
    log(f"{len(checks)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: cdp_test.py BIN OUTDIR [CHROMIUM]")
    sys.exit(run(os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "chromium"))
