"""The node agent under a real ``kubelite up`` (root, runc, CNI), driven by the real kubectl and
the ``kubernetes`` client: what the acceptance scenarios do not cover.

OOMKilled under a memory limit; a startup probe holding liveness back; preStop before
SIGTERM; pulling from a local token-auth registry with the credentials of the node's
``registries.yaml`` (and failing with wrong ones); a Memory emptyDir shared by the pod's
containers; a configMap volume following its ConfigMap; pods over their local storage limits
evicted; and, last, the agent restarted (SIGTERM, ``kubelite up`` again on the same data dir)
adopting the running containers.

One ``kubelite up`` for the module, on a fresh data dir under a temp dir that is removed at
the end, after ``kubelite reset --node-network``. Skipped, naming what is missing, without
root, runc, the CNI plugins, busybox or the busybox image; the registry test also needs
docker-registry and skopeo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from localregistry import REGISTRY_BIN, SKOPEO_BIN, Registry, TokenServer, skopeo_push, start_registry
from localregistry import token_server_thread as _token_server_thread
from nodecluster import BUSYBOX_IMAGE, NodeCluster, node_missing, wait_until

MISSING = node_missing()
pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        bool(MISSING),
        reason="node agent e2e tests need a node running real containers under kubelite up; missing: "
        + ", ".join(MISSING),
    ),
]

USER, PASSWORD = "alice", "s3cret"
IMAGE_PATH = "test/busybox:1"


@pytest.fixture(scope="session")
def node_base() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="kubelite-node-e2e-"))
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class AuthRegistry:
    registry: Registry
    tokens: TokenServer


@pytest.fixture(scope="session")
def auth_registry(node_base: Path) -> Iterator[AuthRegistry | None]:
    """docker-registry behind token auth with the busybox image as ``test/busybox:1``; None
    (the registry test skips) without docker-registry or skopeo."""
    if REGISTRY_BIN is None or SKOPEO_BIN is None:
        yield None
        return
    base = node_base / "registry"
    base.mkdir()
    with _token_server_thread(base, USER, PASSWORD) as tokens:
        reg = start_registry(base, base / "storage", tokens.registry_auth())
        try:
            skopeo_push(BUSYBOX_IMAGE, f"docker://{reg.host}/{IMAGE_PATH}", creds=f"{USER}:{PASSWORD}")
            yield AuthRegistry(reg, tokens)
        finally:
            reg.stop()


@pytest.fixture(scope="session")
def cluster(node_base: Path, auth_registry: AuthRegistry | None) -> Iterator[NodeCluster]:
    registries = None
    if auth_registry is not None:
        port = auth_registry.registry.port
        # one registry under two names: the right password for one, a wrong one for the other
        registries = {
            "configs": {
                f"127.0.0.1:{port}": {"auth": {"username": USER, "password": PASSWORD}},
                f"localhost:{port}": {"auth": {"username": USER, "password": "wrong"}},
            }
        }
    node = NodeCluster.start(node_base / "cluster", registries)
    try:
        yield node
    finally:
        problems = node.close()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def ns(cluster: NodeCluster, request: pytest.FixtureRequest) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name, check=True)
    return name


@pytest.fixture
def core(cluster: NodeCluster) -> Any:
    import kubernetes

    return kubernetes.client.CoreV1Api(cluster.api)


def apply(cluster: NodeCluster, ns: str, manifest: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=textwrap.dedent(manifest), check=True)


def pod_json(cluster: NodeCluster, ns: str, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        cluster.kubectl("-n", ns, "get", "pod", name, "-o", "json", check=True).stdout
    )
    return doc


def container_status(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for cs in pod.get("status", {}).get("containerStatuses", []):
        if cs["name"] == name:
            return dict(cs)
    return {}


def wait_ready(cluster: NodeCluster, ns: str, pod: str, timeout: int = 90) -> None:
    result = cluster.kubectl(
        "-n", ns, "wait", "--for=condition=Ready", f"pod/{pod}", f"--timeout={timeout}s", timeout=timeout + 10
    )
    if result.returncode != 0:
        described = cluster.kubectl("-n", ns, "describe", "pod", pod).stdout
        raise AssertionError(f"pod {ns}/{pod} not Ready: {result.stderr}\n{described}")


def exec_out(cluster: NodeCluster, ns: str, pod: str, *cmd: str, container: str | None = None) -> str:
    args = ["-n", ns, "exec", pod, *(["-c", container] if container else []), "--", *cmd]
    return cluster.kubectl(*args, check=True).stdout


def events(core: Any, ns: str, name: str) -> list[tuple[str, str]]:
    listed = core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}")
    return [(e.reason or "", e.message or "") for e in listed.items]


# --------------------------------------------------------------------------------------------


def test_oom_killed_under_a_memory_limit(cluster: NodeCluster, ns: str) -> None:
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: hog}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: hog
            image: busybox
            command: ["sh", "-c", "a=x; while :; do a=$a$a; done"]
            resources: {limits: {memory: 16Mi}}
        """,
    )

    def terminated() -> dict[str, Any]:
        cs = container_status(pod_json(cluster, ns, "hog"), "hog")
        return dict(cs.get("state", {}).get("terminated") or cs.get("lastState", {}).get("terminated") or {})

    term = wait_until(terminated, 90, "the hog container terminated")
    assert term.get("reason") == "OOMKilled" and term.get("exitCode") == 137, term
    assert pod_json(cluster, ns, "hog")["status"]["phase"] == "Failed"


def test_startup_probe_holds_back_liveness(cluster: NodeCluster, ns: str, core: Any) -> None:
    # liveness alone (failureThreshold 1, every second) would kill it long before the file exists
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: slow}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: app
            image: busybox
            command: ["sh", "-c", "sleep 6; touch /tmp/started /tmp/alive; exec sleep 3600"]
            startupProbe: {exec: {command: ["cat", "/tmp/started"]}, periodSeconds: 1, failureThreshold: 30}
            livenessProbe: {exec: {command: ["cat", "/tmp/alive"]}, periodSeconds: 1, failureThreshold: 1}
        """,
    )

    def running_not_started() -> bool:
        cs = container_status(pod_json(cluster, ns, "slow"), "app")
        return "running" in cs.get("state", {}) and cs.get("started") is False and cs.get("ready") is False

    wait_until(running_not_started, 60, "the container running, not yet started", interval=0.2)
    wait_ready(cluster, ns, "slow")
    cs = container_status(pod_json(cluster, ns, "slow"), "app")
    assert cs["started"] is True and cs["ready"] is True
    assert cs["restartCount"] == 0, cs
    messages = [m for reason, m in events(core, ns, "slow") if reason == "Unhealthy"]
    assert any(m.startswith("Startup probe failed") for m in messages), messages
    assert not any(m.startswith("Liveness probe failed") for m in messages), messages


def test_pre_stop_runs_before_sigterm(cluster: NodeCluster, ns: str, node_base: Path) -> None:
    shared = node_base / f"prestop-{ns}"
    apply(
        cluster,
        ns,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: graceful}}
        spec:
          terminationGracePeriodSeconds: 20
          containers:
          - name: app
            image: busybox
            command: ["sh", "-c", "trap 'echo term >> /m/order; exit 0' TERM; echo up > /m/up; while :; do sleep 0.1; done"]
            lifecycle:
              preStop: {{exec: {{command: ["sh", "-c", "echo prestop >> /m/order; sleep 1"]}}}}
            volumeMounts: [{{name: m, mountPath: /m}}]
          volumes:
          - {{name: m, hostPath: {{path: "{shared}", type: DirectoryOrCreate}}}}
        """,
    )
    wait_ready(cluster, ns, "graceful")
    wait_until(lambda: (shared / "up").is_file(), 30, "the container's trap set")
    cluster.kubectl("-n", ns, "delete", "pod", "graceful", "--timeout=60s", timeout=90, check=True)
    assert (shared / "order").read_text().split() == ["prestop", "term"]


def test_pull_from_a_token_auth_registry(
    cluster: NodeCluster, ns: str, core: Any, auth_registry: AuthRegistry | None
) -> None:
    if auth_registry is None:
        pytest.skip("needs docker-registry and skopeo (apt-get install docker-registry skopeo)")
    port = auth_registry.registry.port
    good, bad = f"127.0.0.1:{port}/{IMAGE_PATH}", f"localhost:{port}/{IMAGE_PATH}"
    asked = len(auth_registry.tokens.requests)
    apply(
        cluster,
        ns,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: pulled}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - {{name: app, image: "{good}", imagePullPolicy: Always, command: ["sh", "-c", "echo pulled; exec sleep 3600"]}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: denied}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - {{name: app, image: "{bad}", imagePullPolicy: Always, command: ["sleep", "3600"]}}
        """,
    )
    wait_ready(cluster, ns, "pulled")
    assert cluster.kubectl("-n", ns, "logs", "pulled", check=True).stdout.strip() == "pulled"
    assert len(auth_registry.tokens.requests) > asked  # the pull went through the token server
    pulled = [m for reason, m in events(core, ns, "pulled") if reason == "Pulled"]
    assert any(good in m for m in pulled), events(core, ns, "pulled")

    def pull_failed() -> str:
        waiting = container_status(pod_json(cluster, ns, "denied"), "app").get("state", {}).get("waiting", {})
        return (
            str(waiting.get("reason", ""))
            if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff")
            else ""
        )

    wait_until(pull_failed, 60, "the denied pod in ErrImagePull/ImagePullBackOff")
    wait_until(
        lambda: ("Failed", "Error: ImagePullBackOff") in events(core, ns, "denied"),
        60,
        "an ImagePullBackOff event",
    )
    failed = [m for reason, m in events(core, ns, "denied") if reason == "Failed"]
    # the token server refused the node's wrong password for this host name
    assert any(m.startswith(f'Failed to pull image "{bad}"') and "401 Unauthorized" in m for m in failed), (
        failed
    )
    assert ("Failed", "Error: ErrImagePull") in events(core, ns, "denied")
    phase = pod_json(cluster, ns, "denied")["status"]["phase"]
    assert phase == "Pending"


def test_memory_empty_dir_is_one_tmpfs_shared_by_the_containers(
    cluster: NodeCluster, ns: str, core: Any
) -> None:
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: mem}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: writer
            image: busybox
            command: ["sh", "-c", "echo from-writer > /cache/msg; exec sleep 3600"]
            volumeMounts: [{name: cache, mountPath: /cache}]
          - name: reader
            image: busybox
            command: ["sleep", "3600"]
            volumeMounts: [{name: cache, mountPath: /cache}]
          volumes:
          - {name: cache, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
        """,
    )
    wait_ready(cluster, ns, "mem")
    read = wait_until(
        lambda: exec_out(cluster, ns, "mem", "cat", "/cache/msg", container="reader"),
        30,
        "the reader sees msg",
    )
    assert read.strip() == "from-writer"
    df = exec_out(cluster, ns, "mem", "df", "-k", "/cache", container="reader").splitlines()
    fields = df[-1].split()
    assert fields[0] == "tmpfs" and fields[1] == str(8 * 1024), df
    mounts = exec_out(cluster, ns, "mem", "cat", "/proc/mounts", container="writer")
    assert any(line.split()[1:3] == ["/cache", "tmpfs"] for line in mounts.splitlines()), mounts
    # on the host: one tmpfs under the pod's dir (the agent's pods dir, in the data dir)
    uid = core.read_namespaced_pod("mem", ns).metadata.uid
    suffix = f"/pods/{uid}/volumes/kubernetes.io~empty-dir/cache"

    def host_mounts() -> list[str]:
        with open("/proc/self/mounts") as f:
            return [line for line in f if line.split()[1].endswith(suffix)]

    [line] = host_mounts()
    point, fstype, options = line.split()[1:4]
    assert point.startswith(str(cluster.data_dir) + "/") and fstype == "tmpfs", line
    assert f"size={8 * 1024}k" in options.split(","), line
    cluster.kubectl("-n", ns, "delete", "pod", "mem", "--timeout=60s", timeout=90, check=True)
    wait_until(lambda: not host_mounts(), 30, "the tmpfs unmounted after the pod went")
    assert not os.path.exists(point)


def test_config_map_volume_follows_updates(cluster: NodeCluster, ns: str, core: Any) -> None:
    import kubernetes

    core.create_namespaced_config_map(
        ns,
        kubernetes.client.V1ConfigMap(
            metadata=kubernetes.client.V1ObjectMeta(name="conf"), data={"greeting": "hello"}
        ),
    )
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: reader}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: app
            image: busybox
            command: ["sleep", "3600"]
            volumeMounts: [{name: conf, mountPath: /config}]
          volumes:
          - {name: conf, configMap: {name: conf}}
        """,
    )
    wait_ready(cluster, ns, "reader")
    assert exec_out(cluster, ns, "reader", "cat", "/config/greeting") == "hello"
    core.patch_namespaced_config_map("conf", ns, {"data": {"greeting": "bonjour"}})
    wait_until(
        lambda: exec_out(cluster, ns, "reader", "cat", "/config/greeting") == "bonjour",
        60,
        "the updated greeting inside the container",
        interval=1,
    )


def test_pods_over_their_local_storage_limits_are_evicted(cluster: NodeCluster, ns: str, core: Any) -> None:
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: fills-scratch}
        spec:
          terminationGracePeriodSeconds: 30
          volumes: [{name: scratch, emptyDir: {sizeLimit: 4Mi}}]
          containers:
          - name: c
            image: busybox
            command: ["sh", "-c", "head -c 8388608 /dev/zero > /scratch/blob; sleep 3600"]
            volumeMounts: [{name: scratch, mountPath: /scratch}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: fills-rootfs}
        spec:
          terminationGracePeriodSeconds: 30
          containers:
          - name: c
            image: busybox
            command: ["sh", "-c", "head -c 8388608 /dev/zero > /blob; sleep 3600"]
            resources: {limits: {ephemeral-storage: 4Mi}}
        """,
    )

    def evicted(name: str) -> dict[str, Any]:
        status = pod_json(cluster, ns, name).get("status", {})
        return dict(status) if status.get("reason") == "Evicted" else {}

    scratch = wait_until(lambda: evicted("fills-scratch"), 60, "fills-scratch evicted")
    assert scratch["phase"] == "Failed"
    assert scratch["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "4Mi". '
    assert ("Evicted", scratch["message"]) in events(core, ns, "fills-scratch")
    rootfs = wait_until(lambda: evicted("fills-rootfs"), 60, "fills-rootfs evicted")
    assert (
        rootfs["message"] == "Pod ephemeral local storage usage exceeds the total limit of containers 4Mi. "
    )
    # killed at once (not after the 30 s grace period), and nothing of them runs any more
    assert container_status(pod_json(cluster, ns, "fills-rootfs"), "c")["state"].get("terminated")


def test_agent_restart_adopts_running_containers(cluster: NodeCluster, ns: str, core: Any) -> None:
    """Last: restarts the session's ``kubelite up``."""
    apply(
        cluster,
        ns,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: survivor}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - {name: app, image: busybox, command: ["sh", "-c", "echo $$ > /tmp/pid; exec sleep 3600"]}
        """,
    )
    wait_ready(cluster, ns, "survivor")
    before = container_status(pod_json(cluster, ns, "survivor"), "app")
    exec_out(cluster, ns, "survivor", "sh", "-c", "echo kept > /tmp/marker")
    cluster.restart()
    wait_ready(cluster, ns, "survivor")
    # the restarted agent has written the pod's status again: still the same container
    after = wait_until(
        lambda: container_status(pod_json(cluster, ns, "survivor"), "app"), 30, "the pod's container status"
    )
    assert after["containerID"] == before["containerID"], (before, after)
    assert after["restartCount"] == 0 and after["state"]["running"] == before["state"]["running"]
    # The pod's status is still the one from before the restart; the restarted agent serves the
    # kubelet API a moment after the API server is back: exec as soon as it answers.
    marker = wait_until(
        lambda: exec_out(cluster, ns, "survivor", "cat", "/tmp/marker").strip(),
        30,
        "exec into the adopted container",
    )
    assert marker == "kept"
    assert core.read_namespaced_pod("survivor", ns).status.phase == "Running"
