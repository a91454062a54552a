#!/usr/bin/python3
"""Validates deploy/k8s: every file parses as YAML, each object has apiVersion/kind/metadata.name,
the StatefulSet's probes use gRPC health on the query port, its flags exist in bottleneckd
--help, its token files come from the Secret, and each Service selects the StatefulSet's pods
and targets a declared container port."""
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
    for svc in by_kind["Service"]:
        assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert target in ports or target in ports.values(), f"{svc['metadata']['name']}: {target}"
    names = {s["metadata"]["name"] for s in by_kind["Service"]}
    assert sts["spec"]["serviceName"] in names
    print(f"{len(objects)} objects valid")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
