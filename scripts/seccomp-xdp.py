#!/usr/bin/env python3
"""Writes a seccomp profile for xturn's image with --xdp: the container runtime's default one
(IN, e.g. /usr/share/containers/seccomp.json) plus bpf() for a container holding CAP_BPF and
perf_event_open() for one holding CAP_PERFMON, as newer runtimes' defaults have them. Older
defaults (Debian 12's podman) allow both only with CAP_SYS_ADMIN, which xturn does not need.
Without those capabilities both are refused, as by the default.

  seccomp-xdp.py IN OUT        then: podman run --security-opt seccomp=OUT ..."""
import json
import sys


def main(src, dst):
    with open(src, encoding="utf-8") as f:
        profile = json.load(f)
    grant = (("bpf", "CAP_BPF"), ("perf_event_open", "CAP_PERFMON"))
    # Out of the default's rules for them (an allow with SYS_ADMIN, an errno without it: the
    # errno would win over any allow added), then allowed with their own capability.
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in dict(grant)]
    profile["syscalls"] = [r for r in profile["syscalls"] if r["names"]]
    for name, cap in grant:
        profile["syscalls"].append(
            {"names": [name], "action": "SCMP_ACT_ALLOW", "includes": {"caps": [cap]}})
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(profile, f, indent=1)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
