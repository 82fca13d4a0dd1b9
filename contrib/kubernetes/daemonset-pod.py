#!/usr/bin/env python3
"""Prints the Pod that a DaemonSet runs on a node: its pod template as a Pod, for trying the
template with `podman kube play` (tests/integration/test_kube_play.sh does) without copying it.

  daemonset-pod.py DAEMONSET.yaml [--name NAME] [--image IMAGE] [--env NAME=VALUE]...
                   [--no-ports]

--env sets a variable of every container to a plain value, for what a node fills in (NODE_IP
from status.hostIP, the Secret); an empty VALUE removes the variable. $(NAME) references in the
other values are expanded as Kubernetes does. --no-ports drops the containers' ports, which
document the host network's ports to Kubernetes but which podman 4.3 refuses with hostNetwork."""
import argparse
import copy
import re
import sys

import yaml


def set_env(container, overrides):
    # First (Kubernetes expands $(NAME) only of variables defined before), then the others.
    env = [{"name": k, "value": v} for k, v in overrides.items() if v != ""]
    env += [e for e in container.get("env", []) if e["name"] not in overrides]
    known = {}
    for e in env:
        if "value" in e:
            e["value"] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                lambda m: known.get(m.group(1), m.group(0)), e["value"])
            known[e["name"]] = e["value"]
    container["env"] = env


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("daemonset")
    ap.add_argument("--name")
    ap.add_argument("--image")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--no-ports", action="store_true")
    args = ap.parse_args(argv)
    with open(args.daemonset, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "DaemonSet"]
    if len(docs) != 1:
        sys.exit(f"{args.daemonset}: expected one DaemonSet, found {len(docs)}")
    template = copy.deepcopy(docs[0]["spec"]["template"])
    meta = template.get("metadata", {})
    meta["name"] = args.name or docs[0]["metadata"]["name"]
    spec = template["spec"]
    overrides = {}
    for kv in args.env:
        if "=" not in kv:
            sys.exit(f"--env {kv}: expected NAME=VALUE")
        k, v = kv.split("=", 1)
        overrides[k] = v
    for c in spec["containers"]:
        if args.image:
            c["image"] = args.image
        set_env(c, overrides)
    if args.no_ports:
        for c in spec["containers"]:
            c.pop("ports", None)
    spec.pop("nodeSelector", None)
    spec["restartPolicy"] = "Never"  # a Pod of its own: let a test see the exit
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    yaml.safe_dump(pod, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
