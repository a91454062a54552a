#!/usr/bin/python3
"""Validates deploy/k8s: every file parses as YAML, each object has apiVersion/kind/metadata.name,
the StatefulSet's probes use gRPC health on the query port, its flags exist in bottleneckd
--help, its token files come from the Secret, each Service selects the pods of a StatefulSet or
Deployment and targets a declared container port, and the query-replica Deployment follows the
primary's volume (mounted read-only from the StatefulSet's claim) with no training endpoint."""
import subprocess
import sys
from pathlib import Path

import yaml


def main():
    root, bottleneckd = Path(sys.argv[1]), sys.argv[2]
    objects = []
    for path in sorted((root / "deploy" / "k8s").glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            assert obj and obj.get("apiVersion") and obj.get("kind"), f"{path}: incomplete object"
            assert obj["metadata"].get("name"), f"{path}: object without a name"
            objects.append(obj)
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    (sts,) = by_kind["StatefulSet"]
    pod = sts["spec"]["template"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["grpc"]["port"] == ports["query"]
    assert container["livenessProbe"]["grpc"]["port"] == ports["query"]
    usage = subprocess.run([bottleneckd, "--help"], capture_output=True, text=True).stdout
    for arg in container["args"]:
        flag = arg.split("=")[0]
        assert flag in usage, f"{flag} is not a bottleneckd flag"
    secret_name = next(v["secret"]["secretName"] for v in pod["spec"]["volumes"] if "secret" in v)
    (secret,) = by_kind["Secret"]
    assert secret["metadata"]["name"] == secret_name
    for key in ("admin", "query"):
        assert key in secret["stringData"], f"secret lacks {key}"
        assert f"/etc/bottleneck/tokens/{key}" in " ".join(container["args"])
    workloads = by_kind["StatefulSet"] + by_kind.get("Deployment", [])
    for svc in by_kind["Service"]:
        selected = [w for w in workloads
                    if svc["spec"]["selector"].items()
                    <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert selected, f"{svc['metadata']['name']} selects no pods"
        for w in selected:
            (c,) = w["spec"]["template"]["spec"]["containers"]
            declared = {p["name"]: p["containerPort"] for p in c["ports"]}
            for port in svc["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                assert target in declared or target in declared.values(), \
                    f"{svc['metadata']['name']}: {target}"
    (replicas,) = by_kind["Deployment"]
    rpod = replicas["spec"]["template"]
    (rc,) = rpod["spec"]["containers"]
    rargs = dict(a.lstrip("-").split("=", 1) for a in rc["args"])
    for arg in rc["args"]:
        assert arg.split("=")[0] in usage, f"{arg.split('=')[0]} is not a bottleneckd flag"
    assert "training-listen" not in rargs
    mounts = {m["mountPath"]: m for m in rc["volumeMounts"]}
    follow_mount = mounts[rargs["follow"]]
    assert follow_mount.get("readOnly") is True
    claim = next(v for v in rpod["spec"]["volumes"] if v["name"] == follow_mount["name"])
    template = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert claim["persistentVolumeClaim"]["claimName"] == f"{template}-{sts['metadata']['name']}-0"
    assert rargs["data-dir"] != rargs["follow"] and rargs["data-dir"] in mounts
    rports = {p["name"]: p["containerPort"] for p in rc["ports"]}
    assert rc["readinessProbe"]["grpc"]["port"] == rports["query"]
    names = {s["metadata"]["name"] for s in by_kind["Service"]}
    assert sts["spec"]["serviceName"] in names
    print(f"{len(objects)} objects valid")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
