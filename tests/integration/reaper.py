#!/usr/bin/env python3
"""reaper.py STATUS_FILE CMD...: CMD (under `env --default-signal`, its signals as under a
service manager) as the child of a child subreaper (prctl PR_SET_CHILD_SUBREAPER). A live
upgrade's new process, orphaned when the old one exits, is reparented here instead of to init,
so every generation of the daemon is reaped with its exit status known, as systemd knows it.

STATUS_FILE gets "started PID" for CMD, then "exited PID STATUS" as each process ends (STATUS
as the shell gives it: 128+N for signal N). SIGTERM and SIGINT are passed on to the children;
the reaper exits once it has none left."""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("reaper: prctl: " + os.strerror(ctypes.get_errno()))
out = open(sys.argv[1], "a", buffering=1, encoding="ascii")


def children():
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        if int(stat[stat.rindex(")") + 2:].split()[1]) == me:
            yield int(d)


def forward(sig, _frame):
    for pid in children():
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
pid = os.fork()
if pid == 0:
    try:
        os.execvp("env", ["env", "--default-signal", *sys.argv[2:]])
    finally:
        os._exit(127)
out.write(f"started {pid}\n")
while True:
    try:
        pid, status = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    code = os.waitstatus_to_exitcode(status)
    out.write(f"exited {pid} {code if code >= 0 else 128 - code}\n")
