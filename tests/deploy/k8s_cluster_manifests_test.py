#!/usr/bin/python3
"""Validates the cluster-mode deployment: deploy/k8s/cluster/*.yaml and
deploy/docker-compose.cluster.yml parse; the NATS StatefulSet runs 3 servers with JetStream on
per-pod volumes, routes to each of them, and a configuration that nats-server accepts (`-t`,
when nats-server is installed); the bottleneckd StatefulSet has one volume per pod (no shared
claim, no pod affinity), only flags that `bottleneckd --help` lists, NATS URLs naming the NATS
pods, stream replicas within the NATS cluster's size, a node id from the pod name and an
advertised address on its headless Service; every Service and PodDisruptionBudget selects pods
and every Service port targets a declared container port; in Compose each node has its own
volume, node id and advertised name."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml


def selects(selector, workload):
    return selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()


def flag_values(args):
    out = {}
    for arg in args:
        key, _, value = arg.lstrip("-").partition("=")
        out[key] = value
    return out


def check_nats_conf(conf, servers):
    assert "jetstream" in conf and "store_dir" in conf, "NATS without JetStream"
    routes = re.findall(r"nats://([\w.-]+):(\d+)", conf)
    assert len(routes) == len(servers), f"routes {routes} vs servers {servers}"
    for (host, _), server in zip(routes, servers):
        assert host.split(".")[0] == server, f"route {host} names no server"
    nats = shutil.which("nats-server")
    if nats:
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write(conf)
            f.flush()
            env = dict(os.environ, SERVER_NAME=servers[0])
            result = subprocess.run([nats, "-t", "-c", f.name], capture_output=True, text=True,
                                    env=env)
            assert result.returncode == 0, f"nats-server rejects the configuration: {result}"


def check_k8s(root, usage):
    objects = []
    for path in sorted((root / "deploy" / "k8s" / "cluster").glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            assert obj and obj.get("apiVersion") and obj.get("kind"), f"{path}: incomplete"
            assert obj["metadata"].get("name"), f"{path}: object without a name"
            objects.append(obj)
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    sets = {s["metadata"]["name"]: s for s in by_kind["StatefulSet"]}
    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    nats, node = sets["nats"], sets["bottleneck-cluster"]

    # NATS: 3 servers, JetStream on per-pod volumes, routes to each pod of its headless Service.
    size = nats["spec"]["replicas"]
    assert size == 3
    assert services[nats["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    assert nats["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    (config_map,) = [c for c in by_kind["ConfigMap"] if c["metadata"]["name"] == "nats-config"]
    conf = config_map["data"]["nats.conf"]
    check_nats_conf(conf, [f"nats-{i}" for i in range(size)])
    for i in range(size):
        assert f"nats-{i}.{nats['spec']['serviceName']}:6222" in conf
    (nc,) = nats["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in nc["volumeMounts"]}
    assert mounts["data"] in conf.split("store_dir:")[1].split()[0]
    assert mounts["config"] + "/nats.conf" in nc["args"]

    # bottleneckd: one volume per pod, no shared claim, no affinity; flags from --help.
    pod = node["spec"]["template"]["spec"]
    assert "affinity" not in pod, "cluster nodes need no pod affinity"
    assert not any("persistentVolumeClaim" in v for v in pod.get("volumes", [])), "shared claim"
    (template,) = node["spec"]["volumeClaimTemplates"]
    assert template["spec"]["accessModes"] == ["ReadWriteOnce"]
    (container,) = pod["containers"]
    for arg in container["args"]:
        assert arg.split("=")[0] in usage, f"{arg.split('=')[0]} is not a bottleneckd flag"
    flags = flag_values(container["args"])
    urls = flags["cluster"].split(",")
    assert len(urls) == size
    client_port = next(p["containerPort"] for p in nc["ports"] if p["name"] == "client")
    for i, url in enumerate(urls):
        assert url == f"nats://nats-{i}.{nats['spec']['serviceName']}:{client_port}", url
    assert int(flags["stream-replicas"]) <= size
    assert int(flags["replicas-per-shard"]) >= 2, "one pod down must leave a replica"
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert flags["node-id"] == "$(POD_NAME)" and env["POD_NAME"] == "metadata.name"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    headless = services[node["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert flags["advertise"].startswith(f"$(POD_NAME).{node['spec']['serviceName']}.")
    assert flags["advertise"].endswith(f":{ports['query']}")
    assert container["readinessProbe"]["grpc"]["port"] == ports["query"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[flags["data-dir"]] == template["metadata"]["name"]

    # Services and PodDisruptionBudgets select pods; Service ports target declared ports.
    for svc in services.values():
        selected = [s for s in sets.values() if selects(svc["spec"]["selector"], s)]
        assert selected, f"{svc['metadata']['name']} selects no pods"
        for s in selected:
            (c,) = s["spec"]["template"]["spec"]["containers"]
            declared = {p["name"]: p["containerPort"] for p in c["ports"]}
            for port in svc["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                assert target in declared or target in declared.values(), target
    pdbs = by_kind["PodDisruptionBudget"]
    for s in sets.values():
        covering = [p for p in pdbs if selects(p["spec"]["selector"]["matchLabels"], s)]
        assert len(covering) == 1, f"{s['metadata']['name']}: {len(covering)} budgets"
        assert covering[0]["spec"]["maxUnavailable"] == 1
    return len(objects)


def check_compose(root, usage):
    compose = yaml.safe_load((root / "deploy" / "docker-compose.cluster.yml").read_text())
    services = compose["services"]
    nats = sorted(n for n in services if n.startswith("nats-"))
    assert len(nats) == 3
    check_nats_conf((root / "deploy" / "nats-cluster.conf").read_text(), nats)
    volumes, ids = set(), set()
    nodes = [n for n in services if n.startswith("bottleneckd-")]
    assert len(nodes) >= 3
    for name in nodes:
        service = services[name]
        for arg in service["command"]:
            assert arg.split("=")[0] in usage, f"{arg.split('=')[0]} is not a bottleneckd flag"
        flags = flag_values(service["command"])
        hosts = [u.split("//")[1].split(":")[0] for u in flags["cluster"].split(",")]
        assert sorted(hosts) == nats, hosts
        assert flags["advertise"].split(":")[0] == name
        (volume,) = [v.split(":")[0] for v in service["volumes"]
                     if v.split(":")[1] == flags["data-dir"]]
        assert volume in compose["volumes"] and volume not in volumes, f"{name}: shared volume"
        volumes.add(volume)
        assert flags["node-id"] not in ids
        ids.add(flags["node-id"])
    for name in nats:
        data = [v for v in services[name]["volumes"] if v.endswith(":/data")]
        assert len(data) == 1 and data[0].split(":")[0] in compose["volumes"], name


def main():
    root, bottleneckd = Path(sys.argv[1]), sys.argv[2]
    usage = subprocess.run([bottleneckd, "--help"], capture_output=True, text=True).stdout
    assert "--cluster" in usage
    count = check_k8s(root, usage)
    check_compose(root, usage)
    print(f"{count} Kubernetes objects and the Compose cluster valid")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
