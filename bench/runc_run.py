"""Container start latency: the runc runtime against ``runc run`` itself, same bundle.

Reference: ``runc run --detach`` of a busybox bundle (its rootfs a plain
directory, the same ``config.json`` as ours) running ``sleep 1000``: the cost
of runc creating and starting a container, timed until ``runc`` returns.

Value: ``RuncRuntime.create_container`` + ``start_container`` of the same
command in an existing sandbox (overlayfs mount, config.json, the per-container
shim's start, ``runc run --detach``), timed until
``start_container`` returns (the container runs). Containers are removed
between runs, untimed; alternating the two kinds so machine load hits both.

Ends with ``RESULT name=runc_container_start value=<ms> unit=ms
reference=<runc run ms> ratio=<value/reference>`` (medians), and the
overhead in ms on top of runc. Goal: overhead well under 200 ms. Needs root,
runc and busybox-static; prints why and exits 0 otherwise.

    .venv/bin/python bench/runc_run.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from kubelite.kubelet.runtime import cgroups
from kubelite.kubelet.runtime.interface import ContainerConfig, SandboxConfig
from kubelite.kubelet.runtime.runc import RuncRuntime, find_static_busybox, runc_available


def make_layer(base: str) -> str:
    busybox = find_static_busybox()
    assert busybox is not None
    layer = os.path.join(base, "layer")
    for d in ("bin", "proc", "dev", "sys", "etc", "tmp"):
        os.makedirs(os.path.join(layer, d))
    shutil.copy2(busybox, os.path.join(layer, "bin", "busybox"))
    for name in ("sh", "sleep", "true"):
        os.symlink("busybox", os.path.join(layer, "bin", name))
    return layer


def read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def runc_run_detached(runc_root: str, bundle: str, spec: dict, rid: str) -> float:
    """ms of one ``runc run --detach`` (the container is deleted afterwards, untimed)."""
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    t0 = time.perf_counter()
    subprocess.run(
        ["runc", "--root", runc_root, "run", "--detach", "--bundle", bundle, rid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    elapsed = (time.perf_counter() - t0) * 1000
    subprocess.run(["runc", "--root", runc_root, "delete", "--force", rid], check=True)
    return elapsed


async def bench(runs: int) -> int:
    base = tempfile.mkdtemp(prefix="kubelite-bench-runc-")
    cgroup_root = f"kubelite-bench-{secrets.token_hex(4)}"
    rt = RuncRuntime(os.path.join(base, "rt"), cgroup_root=cgroup_root)
    runc_root = os.path.join(base, "runc-ref")
    ours: list[float] = []
    reference: list[float] = []
    try:
        await rt.start()
        layer = make_layer(base)
        sb = await rt.run_sandbox(
            SandboxConfig(pod_uid="bench", pod_name="bench", namespace="bench", hostname="b")
        )
        config = ContainerConfig(
            name="c",
            image="busybox",
            image_id="sha256:bench",
            rootfs_layers=[layer],
            command=["sleep", "1000"],
            log_path=os.path.join(base, "c.log"),
        )
        # the reference bundle: our config.json for that container, its rootfs the layer itself
        probe = await rt.create_container(sb, config)
        spec = await asyncio.to_thread(
            read_json, os.path.join(rt.containers_dir, probe, "bundle", "config.json")
        )
        await rt.remove_container(probe)
        bundle = os.path.join(base, "bundle")
        os.makedirs(bundle)
        spec["root"] = {"path": layer, "readonly": True}
        for run in range(runs + 2):  # two warm-up rounds
            rid = f"ref{run}"
            spec["linux"]["cgroupsPath"] = f"/{cgroup_root}/ref/{rid}"
            ref_ms = await asyncio.to_thread(runc_run_detached, runc_root, bundle, spec, rid)
            t2 = time.perf_counter()
            cid = await rt.create_container(sb, config)
            await rt.start_container(cid)
            t3 = time.perf_counter()
            await rt.remove_container(cid)
            if run >= 2:
                reference.append(ref_ms)
                ours.append((t3 - t2) * 1000)
        await rt.remove_sandbox(sb.id)
    finally:
        for s in await rt.list_sandboxes():
            await rt.remove_sandbox(s.id)
        await asyncio.to_thread(rt.release_state)  # the runtime's state tmpfs
        mounts = cgroups.cgroup_mounts()
        cgroups.remove_cgroup(mounts, f"/{cgroup_root}")
        shutil.rmtree(base, ignore_errors=True)
    value, ref = statistics.median(ours), statistics.median(reference)
    print(f"runc run --detach: median {ref:.1f} ms (min {min(reference):.1f}, max {max(reference):.1f})")
    print(f"create+start:      median {value:.1f} ms (min {min(ours):.1f}, max {max(ours):.1f})")
    print(f"overhead on top of runc: {value - ref:.1f} ms (goal: well under 200 ms)")
    print(
        f"RESULT name=runc_container_start value={value:.1f} unit=ms reference={ref:.1f} ratio={value / ref:.3f}"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each (default 20)")
    args = parser.parse_args()
    why = runc_available()
    if why is not None:
        print(f"runc_run: skipped: {why}")
        sys.exit(0)
    sys.exit(asyncio.run(bench(max(1, args.runs))))


if __name__ == "__main__":
    main()
