#!/usr/bin/env python3
"""Run one page in headless Chromium and print what the page leaves in window.xtResult.

Usage: chromium_page.py CHROMIUM PAGE TIMEOUT CONSOLE_LOG [CHROMIUM_FLAG...]

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on
its fd 3, replies on its fd 4, NUL-terminated JSON), so nothing listens on a port and no package
beyond Python is needed. The script opens PAGE (a file path) in a new tab, copies the page's
console messages and uncaught exceptions to CONSOLE_LOG, polls window.xtResult until the page
sets it (or TIMEOUT seconds pass), prints it as one JSON line on stdout, then closes Chromium
(its whole process group, if it lingers) and deletes the temporary profile.
The profile is a new directory under $TMPDIR (or /tmp).
Exit status: 0 with a result, 2 on timeout, 3 if Chromium exited or the pipe broke, 4 on SIGTERM.
"""
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Cdp:
    def __init__(self, wfd, rfd, console):
        self.wfd, self.rfd, self.console = wfd, rfd, console
        self.buf = b""
        self.next_id = 0

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.wfd, data):]
        return self.next_id

    def read_one(self, deadline):
        """One message, or None at the deadline. Raises EOFError when the pipe closes."""
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.rfd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                raise EOFError("DevTools pipe closed (Chromium exited?)")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        msg = json.loads(raw)
        self.note(msg)
        return msg

    def note(self, msg):
        """Console messages and exceptions of the page go to the console log."""
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            args = [a.get("value", a.get("description", "")) for a in p.get("args", [])]
            self.console.write(f"console.{p.get('type')}: {' '.join(map(str, args))}\n")
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.console.write(
                f"exception: {d.get('exception', {}).get('description', d.get('text'))}\n")
        elif method == "Inspector.detached" or method == "Target.detachedFromTarget":
            self.console.write(f"{method}: {json.dumps(p)}\n")
        self.console.flush()

    def call(self, method, params=None, session=None, deadline=None):
        mid = self.send(method, params, session)
        while True:
            msg = self.read_one(deadline)
            if msg is None:
                raise TimeoutError(f"no reply to {method}")
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    chromium, page, timeout, console_path = sys.argv[1:5]
    extra = sys.argv[5:]
    deadline = time.monotonic() + float(timeout)
    # A TERM (the caller's timeout) still closes Chromium and removes the profile (finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(4))
    profile = tempfile.mkdtemp(prefix="xturn-chromium.")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()

    def child_fds():
        # The protocol's fds 3 and 4 (the pipes may be fds 3 and 4 themselves: move them out of
        # the way first); dup2 makes them inheritable, the originals close on exec.
        r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.dup2(r, 3)
        os.dup2(w, 4)

    args = [chromium, "--remote-debugging-pipe", f"--user-data-dir={profile}", *extra,
            "about:blank"]
    console = open(console_path, "a", encoding="utf-8")
    console.write("chromium: " + " ".join(args) + "\n")
    console.flush()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=console, stderr=console,
                            preexec_fn=child_fds, close_fds=False, start_new_session=True)
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    cdp = Cdp(to_chrome_w, from_chrome_r, console)
    status, result = 3, None
    try:
        target = cdp.call("Target.createTarget", {"url": "about:blank"},
                          deadline=deadline)["targetId"]
        session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                           deadline=deadline)["sessionId"]
        cdp.call("Runtime.enable", session=session, deadline=deadline)
        cdp.call("Page.enable", session=session, deadline=deadline)
        cdp.call("Page.navigate", {"url": "file://" + os.path.abspath(page)}, session=session,
                 deadline=deadline)
        probe = "window.xtResult === undefined ? null : JSON.stringify(window.xtResult)"
        while result is None:
            r = cdp.call("Runtime.evaluate", {"expression": probe, "returnByValue": True},
                         session=session, deadline=deadline)
            result = r.get("result", {}).get("value")
            if result is None:
                pause = min(0.25, deadline - time.monotonic())
                if pause <= 0:
                    raise TimeoutError("the page set no window.xtResult")
                # Keep reading (console events) while waiting.
                while cdp.read_one(time.monotonic() + pause) is not None:
                    pass
        print(result, flush=True)
        status = 0
    except TimeoutError as e:
        print(f"chromium_page: timeout after {timeout} s: {e}", file=sys.stderr)
        status = 2
    except (EOFError, OSError, RuntimeError, KeyError) as e:
        print(f"chromium_page: {e}", file=sys.stderr)
        status = 3
    finally:
        try:
            cdp.send("Browser.close")
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        # Helpers (renderer, GPU, network service, crashpad) share its process group.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        console.write(f"chromium exited with status {proc.returncode}\n")
        console.close()
        shutil.rmtree(profile, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
