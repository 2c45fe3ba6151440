"""Pod volumes on the node: made before the containers start, followed while the pod runs.

Each volume gets a directory ``pods/<uid>/volumes/kubernetes.io~<plugin>/<name>``
(as the kubelet lays them out) that containers bind-mount:

- ``emptyDir``: a directory; ``medium: Memory`` is one tmpfs (``size`` from
  ``sizeLimit``) mounted on that directory on the host when the manager makes
  host mounts (root, the runc runtime), so every container of the pod binds the
  same memory; teardown unmounts it. A tmpfs already there (an agent restarted
  while the pod ran) is kept, content and all. Without host mounts it is a
  plain directory (the process and fake runtimes mount nothing anyway);
- ``hostPath``: the host path itself, checked against its ``type``
  (``DirectoryOrCreate`` and ``FileOrCreate`` create it);
- ``configMap``, ``secret``, ``downwardAPI``, ``projected``: files written
  as the kubelet's atomic writer does — into a timestamped ``..<time>``
  directory, published by swapping the ``..data`` symlink with one rename,
  with each top-level name a symlink through ``..data`` — so a reader never
  sees half an update. ``refresh`` rewrites them when the source changed
  (the pod worker calls it every ``volume_refresh_period``); a source gone
  meanwhile leaves the last content in place. Keys, ``items`` (path and
  mode), ``defaultMode`` and ``optional`` behave as in Kubernetes. With host
  mounts, ``secret``, ``projected`` and ``downwardAPI`` volumes are a tmpfs
  each (mode 1777), as the kubelet keeps them: secrets never reach the disk;
- ``persistentVolumeClaim``: the bound PersistentVolume's ``hostPath`` or
  ``local`` path (other volume sources are not supported here).

With the pod's ``fsGroup``, emptyDir and the projected kinds belong to that group
(``set_ownership``: group-readable, emptyDir group-writable, directories setgid).

Setup errors are ``VolumeError`` (the pod worker reports FailedMount and retries).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kubelite.api.core_v1 import (
    ConfigMap,
    Container,
    DownwardAPIVolumeFile,
    KeyToPath,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    Secret,
    Volume,
)
from kubelite.api.quantity import parse_quantity
from kubelite.kubelet.envvars import EnvError, container_resource, expand, pod_field
from kubelite.kubelet.runtime import mounts as host_mounts
from kubelite.kubelet.runtime.interface import Mount, RuntimeFailure

log = logging.getLogger(__name__)

DEFAULT_MODE = 0o644
# volumes the kubelet keeps in memory (a tmpfs), never on disk: secrets and what may hold them
MEMORY_BACKED = ("secret", "projected", "downwardAPI")
DATA_DIR_NAME = "..data"


class VolumeError(Exception):
    """A volume cannot be set up; ``volume`` names it."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(message)
        self.volume = volume
        self.message = message


class VolumeSource(Protocol):
    """The API reads volumes need (None: not found)."""

    async def configmap(self, namespace: str, name: str) -> ConfigMap | None: ...
    async def secret(self, namespace: str, name: str) -> Secret | None: ...
    async def pvc(self, namespace: str, name: str) -> PersistentVolumeClaim | None: ...
    async def pv(self, name: str) -> PersistentVolume | None: ...


@dataclass
class PodVolume:
    """A set-up volume: what a container mounts for it."""

    name: str
    host_path: str
    kind: str = "bind"  # or "tmpfs": a tmpfs per container (Mount kind), not made by this manager
    options: list[str] = field(default_factory=list)
    read_only: bool = False
    refreshable: bool = False  # configMap/secret/downwardAPI/projected: rewritten on refresh
    changed: bool = False  # set by a refresh that rewrote the content


# --------------------------------------------------------------------------- atomic writer


def _timestamp_name() -> str:
    now = datetime.now(UTC)
    return now.strftime("..%Y_%m_%d_%H_%M_%S.") + f"{now.microsecond:06d}{os.getpid() % 1000:03d}"


def _read_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    out: dict[str, tuple[bytes, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
    return out


def _check_path(path: str) -> None:
    parts = Path(path).parts
    if not path or os.path.isabs(path) or ".." in parts or (parts and parts[0].startswith("..")):
        raise ValueError(f"invalid path {path!r}")


def write_atomic(target: Path, files: Mapping[str, tuple[bytes, int]], fs_group: int | None = None) -> bool:
    """Publish ``files`` (relative path -> (content, mode)) in ``target`` atomically; False
    when the content was already there. With ``fs_group``, what is published belongs to that
    group (``set_ownership``) before it is swapped in, as the kubelet's atomic writer sets
    permissions first. Blocking."""
    for path in files:
        _check_path(path)
    if fs_group is not None:  # group-readable: what set_ownership makes of them, compared as such
        files = {p: (content, mode | 0o440) for p, (content, mode) in files.items()}
    target.mkdir(parents=True, exist_ok=True)
    data_link = target / DATA_DIR_NAME
    old_name = os.readlink(data_link) if data_link.is_symlink() else ""
    if old_name and (target / old_name).is_dir() and _read_tree(target / old_name) == dict(files):
        return False
    new_name = _timestamp_name()
    while (target / new_name).exists():
        new_name += "0"
    new_dir = target / new_name
    new_dir.mkdir(mode=0o755)
    for path, (content, mode) in files.items():
        p = new_dir / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        os.chmod(p, mode)
    if fs_group is not None:
        set_ownership(new_dir, fs_group, read_only=True)
        set_ownership(target, fs_group, read_only=True, walk=False)
    tmp_link = target / (DATA_DIR_NAME + "_tmp")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(new_name, tmp_link)
    if fs_group is not None:
        os.lchown(tmp_link, -1, fs_group)
    os.rename(tmp_link, data_link)
    top = {Path(p).parts[0] for p in files}
    for name in top:
        link = target / name
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link) if link.is_dir() else link.unlink()
            os.symlink(os.path.join(DATA_DIR_NAME, name), link)
            if fs_group is not None:
                os.lchown(link, -1, fs_group)
    for entry in os.listdir(target):
        p = target / entry
        if entry in top or entry == DATA_DIR_NAME or entry == new_name:
            continue
        if p.is_symlink():
            if os.readlink(p).startswith(DATA_DIR_NAME + os.sep):
                p.unlink()
        elif entry.startswith("..") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    return True


# --------------------------------------------------------------------------- projections


def _mode(item_mode: int | None, default_mode: int | None) -> int:
    if item_mode is not None:
        return item_mode & 0o777
    return (default_mode if default_mode is not None else DEFAULT_MODE) & 0o777


def _key_files(
    values: Mapping[str, bytes],
    items: list[KeyToPath],
    default_mode: int | None,
    optional: bool,
    missing_key: str,
) -> dict[str, tuple[bytes, int]]:
    files: dict[str, tuple[bytes, int]] = {}
    if not items:
        for k, v in values.items():
            files[k] = (v, _mode(None, default_mode))
        return files
    for item in items:
        if item.key not in values:
            if optional:
                continue
            raise ValueError(f"{missing_key}: {item.key}")
        files[item.path] = (values[item.key], _mode(item.mode, default_mode))
    return files


def configmap_values(cm: ConfigMap) -> dict[str, bytes]:
    values = {k: v.encode() for k, v in (cm.data or {}).items()}
    values.update(cm.binaryData or {})
    return values


def secret_values(secret: Secret) -> dict[str, bytes]:
    values = dict(secret.data or {})
    values.update({k: v.encode() for k, v in (secret.stringData or {}).items()})
    return values


def downward_files(
    pod: Pod, items: list[DownwardAPIVolumeFile], default_mode: int | None, allocatable: Mapping[str, str]
) -> dict[str, tuple[bytes, int]]:
    files: dict[str, tuple[bytes, int]] = {}
    for item in items:
        if item.fieldRef is not None:
            value = pod_field(pod, item.fieldRef.fieldPath, whole_maps=True)
        elif item.resourceFieldRef is not None:
            rf = item.resourceFieldRef
            try:
                value = container_resource(pod, rf.containerName, rf.resource, rf.divisor, allocatable)
            except EnvError as e:
                raise ValueError(str(e)) from None
        else:
            continue
        files[item.path] = (value.encode(), _mode(item.mode, default_mode))
    return files


# --------------------------------------------------------------------------- the manager


_PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}


class VolumeManager:
    """Sets up, refreshes and tears down the volumes of the pods on this node."""

    def __init__(
        self,
        pods_dir: Path,
        source: VolumeSource,
        *,
        node_allocatable: Mapping[str, str] | None = None,
        offload: Callable[..., Awaitable[Any]] = asyncio.to_thread,
        mount_tmpfs: bool = False,
    ) -> None:
        self.offload = offload  # where blocking filesystem work runs (a thread; inline in tests)
        self.mount_tmpfs = mount_tmpfs  # Memory emptyDirs as host tmpfs mounts (needs root)
        self.pods_dir = Path(pods_dir)
        self.source = source
        self.node_allocatable: Mapping[str, str] = node_allocatable or {}

    def volume_dir(self, uid: str, plugin: str, name: str) -> Path:
        return self.pods_dir / uid / "volumes" / _PLUGIN_DIRS.get(plugin, plugin) / name

    async def setup(self, pod: Pod) -> dict[str, PodVolume]:
        """Every volume of ``pod``, ready to mount (``VolumeError`` on the first that is not)."""
        out: dict[str, PodVolume] = {}
        for vol in pod.spec.volumes:
            out[vol.name] = await self._setup_one(pod, vol, refresh=False)
        return out

    async def refresh(self, pod: Pod) -> list[str]:
        """Rewrite the projected volumes whose content changed; the names rewritten.
        Errors (a source deleted meanwhile) keep the old content and are logged."""
        changed = []
        for vol in pod.spec.volumes:
            if not (vol.configMap or vol.secret or vol.downwardAPI or vol.projected):
                continue
            try:
                pv = await self._setup_one(pod, vol, refresh=True)
            except VolumeError as e:
                log.info(
                    "volume %s of pod %s/%s not refreshed: %s",
                    vol.name,
                    pod.metadata.namespace,
                    pod.metadata.name,
                    e,
                )
                continue
            if pv.changed:
                changed.append(vol.name)
        return changed

    async def teardown(self, uid: str) -> None:
        """Unmount the pod's Memory emptyDirs and remove its volume directories (blocking work
        in a thread). Idempotent."""
        await self.offload(unmount_and_remove, self.pods_dir / uid / "volumes")

    async def _setup_one(self, pod: Pod, vol: Volume, *, refresh: bool) -> PodVolume:
        uid, ns = pod.metadata.uid, pod.metadata.namespace
        name = vol.name
        fs_group = pod.spec.securityContext.fsGroup if pod.spec.securityContext is not None else None
        if vol.emptyDir is not None:
            d = self.volume_dir(uid, "emptyDir", name)
            await self.offload(d.mkdir, 0o777, True, True)
            if vol.emptyDir.medium == "Memory" and self.mount_tmpfs:
                size = parse_quantity(vol.emptyDir.sizeLimit).value() if vol.emptyDir.sizeLimit else 0
                try:
                    await self.offload(_mount_tmpfs, d, size)
                except RuntimeFailure as e:
                    raise VolumeError(name, str(e)) from None
            else:
                await self.offload(os.chmod, d, 0o777)
            if fs_group is not None:  # new and empty here; later, containers write into it
                try:
                    await self.offload(set_ownership, d, fs_group, False, walk=False)
                except OSError as e:
                    raise VolumeError(
                        name, f"setting the volume's group to fsGroup {fs_group}: {e}"
                    ) from None
            return PodVolume(name, str(d))
        if vol.hostPath is not None:
            await self.offload(_check_host_path, name, vol.hostPath.path, vol.hostPath.type or "")
            return PodVolume(name, vol.hostPath.path)
        if vol.persistentVolumeClaim is not None:
            return await self._pvc(pod, vol)
        files: dict[str, tuple[bytes, int]] | None
        plugin = ""
        try:
            if vol.configMap is not None:
                plugin = "configMap"
                files = await self._configmap_files(
                    ns,
                    vol.configMap.name,
                    vol.configMap.items,
                    vol.configMap.defaultMode,
                    bool(vol.configMap.optional),
                )
            elif vol.secret is not None:
                plugin = "secret"
                files = await self._secret_files(
                    ns,
                    vol.secret.secretName,
                    vol.secret.items,
                    vol.secret.defaultMode,
                    bool(vol.secret.optional),
                )
            elif vol.downwardAPI is not None:
                plugin = "downwardAPI"
                files = downward_files(
                    pod, vol.downwardAPI.items, vol.downwardAPI.defaultMode, self.node_allocatable
                )
            elif vol.projected is not None:
                plugin = "projected"
                files = await self._projected_files(pod, vol)
            else:
                raise VolumeError(name, f"volume {name!r}: this volume type is not supported by kubelite")
        except ValueError as e:
            raise VolumeError(name, str(e)) from None
        target = self.volume_dir(uid, plugin, name)
        if files is None:  # optional source missing: an empty directory
            files = {}
        if plugin in MEMORY_BACKED and self.mount_tmpfs:
            try:
                await self.offload(_mount_tmpfs, target, 0, "1777")
            except RuntimeFailure as e:
                raise VolumeError(name, str(e)) from None
        try:
            changed = await self.offload(write_atomic, target, files, fs_group)
        except OSError as e:
            raise VolumeError(name, f"writing the volume: {e}") from None
        return PodVolume(name, str(target), read_only=True, refreshable=True, changed=changed and refresh)

    async def _configmap_files(
        self, ns: str, cm_name: str, items: list[KeyToPath], default_mode: int | None, optional: bool
    ) -> dict[str, tuple[bytes, int]] | None:
        cm = await self.source.configmap(ns, cm_name)
        if cm is None:
            if optional:
                return None
            raise ValueError(f'configmap "{cm_name}" not found')
        return _key_files(
            configmap_values(cm),
            items,
            default_mode,
            optional,
            "configmap references non-existent config key",
        )

    async def _secret_files(
        self, ns: str, secret_name: str, items: list[KeyToPath], default_mode: int | None, optional: bool
    ) -> dict[str, tuple[bytes, int]] | None:
        secret = await self.source.secret(ns, secret_name)
        if secret is None:
            if optional:
                return None
            raise ValueError(f'secret "{secret_name}" not found')
        return _key_files(
            secret_values(secret), items, default_mode, optional, "references non-existent secret key"
        )

    async def _projected_files(self, pod: Pod, vol: Volume) -> dict[str, tuple[bytes, int]]:
        assert vol.projected is not None
        ns = pod.metadata.namespace
        default_mode = vol.projected.defaultMode
        files: dict[str, tuple[bytes, int]] = {}
        for src in vol.projected.sources:
            if src.configMap is not None:
                files.update(
                    await self._configmap_files(
                        ns,
                        src.configMap.name,
                        src.configMap.items,
                        default_mode,
                        bool(src.configMap.optional),
                    )
                    or {}
                )
            elif src.secret is not None:
                files.update(
                    await self._secret_files(
                        ns, src.secret.name, src.secret.items, default_mode, bool(src.secret.optional)
                    )
                    or {}
                )
            elif src.downwardAPI is not None:
                files.update(downward_files(pod, src.downwardAPI.items, default_mode, self.node_allocatable))
            elif src.serviceAccountToken is not None:
                log.info(
                    "projected volume %s: serviceAccountToken sources are not supported yet; skipped",
                    vol.name,
                )
        return files

    async def _pvc(self, pod: Pod, vol: Volume) -> PodVolume:
        assert vol.persistentVolumeClaim is not None
        claim = vol.persistentVolumeClaim.claimName
        pvc = await self.source.pvc(pod.metadata.namespace, claim)
        if pvc is None:
            raise VolumeError(vol.name, f'persistentvolumeclaim "{claim}" not found')
        if pvc.status.phase != "Bound" or not pvc.spec.volumeName:
            raise VolumeError(vol.name, f'persistentvolumeclaim "{claim}" is not bound')
        pv = await self.source.pv(pvc.spec.volumeName)
        if pv is None:
            raise VolumeError(vol.name, f'persistentvolume "{pvc.spec.volumeName}" not found')
        path = ""
        if pv.spec.hostPath is not None:
            path = pv.spec.hostPath.path
        elif pv.spec.local is not None:
            path = pv.spec.local.path
        if not path:
            raise VolumeError(
                vol.name,
                f"persistentvolume {pv.metadata.name!r}: only hostPath and local volumes are supported",
            )
        await self.offload(os.makedirs, path, 0o777, True)
        return PodVolume(vol.name, path, read_only=vol.persistentVolumeClaim.readOnly)


def _mount_tmpfs(path: Path, size: int, mode: str = "0777") -> None:
    """A tmpfs on ``path`` unless one is there already (its content is the pod's). Blocking."""
    path.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(path):
        return
    data = f"mode={mode}" + (f",size={size}" if size else "")
    host_mounts.mount("tmpfs", str(path), "tmpfs", host_mounts.MS_NOSUID | host_mounts.MS_NODEV, data)


def set_ownership(root: Path, fs_group: int, read_only: bool, *, walk: bool = True) -> None:
    """The kubelet's SetVolumeOwnership for ``fsGroup``: everything under ``root`` (symlinks
    themselves, not followed) in group ``fs_group``, readable by the group (and writable
    unless ``read_only``), directories setgid so that files made later join the group.
    ``walk=False``: ``root`` alone (a directory containers may already be changing is not
    walked: they could swap a file for a symlink to a host path). Blocking."""
    mask = 0o440 if read_only else 0o660

    def own(path: str, is_dir: bool) -> None:
        st = os.lstat(path)
        os.lchown(path, -1, fs_group)
        if stat.S_ISLNK(st.st_mode):
            return
        mode = stat.S_IMODE(st.st_mode) | mask
        if is_dir:
            mode |= stat.S_ISGID | 0o110
        os.chmod(path, mode)

    if not walk:
        own(str(root), True)
        return
    for dirpath, dirnames, filenames in os.walk(root):
        own(dirpath, True)
        for n in filenames:
            own(os.path.join(dirpath, n), False)
        for n in dirnames:  # symlinks to directories are listed here and not walked into
            if os.path.islink(os.path.join(dirpath, n)):
                own(os.path.join(dirpath, n), False)


def unmount_and_remove(path: Path) -> None:
    """Unmount whatever is mounted under ``path`` (deepest first), then remove it. Blocking."""
    if not path.exists():
        return
    for point in host_mounts.mount_points(str(path)):
        try:
            host_mounts.umount(point)
        except RuntimeFailure as e:
            log.warning("%s", e)
    shutil.rmtree(path, ignore_errors=True)


def _check_host_path(volume: str, path: str, type_: str) -> None:
    p = Path(path)
    if type_ == "DirectoryOrCreate":
        p.mkdir(mode=0o755, parents=True, exist_ok=True)
        return
    if type_ == "FileOrCreate":
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch(mode=0o644)
        return
    checks = {
        "Directory": (Path.is_dir, "is not a directory"),
        "File": (Path.is_file, "is not a file"),
        "Socket": (Path.is_socket, "is not a socket file"),
        "CharDevice": (Path.is_char_device, "is not a character device"),
        "BlockDevice": (Path.is_block_device, "is not a block device"),
    }
    check = checks.get(type_)
    if check is None:
        return
    if not p.exists():
        raise VolumeError(volume, f"hostPath type check failed: {path} does not exist")
    if not check[0](p):
        raise VolumeError(volume, f"hostPath type check failed: {path} {check[1]}")


def container_mounts(
    container: Container, volumes: Mapping[str, PodVolume], env: Mapping[str, str]
) -> list[Mount]:
    """The runtime mounts of ``container``'s volumeMounts (subPath and subPathExpr resolved)."""
    mounts: list[Mount] = []
    for vm in container.volumeMounts:
        vol = volumes.get(vm.name)
        if vol is None:
            raise VolumeError(vm.name, f"volume {vm.name!r} not found in the pod")
        sub = vm.subPath or (expand(vm.subPathExpr, env.get) if vm.subPathExpr else "")
        if vol.kind == "tmpfs":
            mounts.append(
                Mount(vol.host_path, vm.mountPath, vm.readOnly or vol.read_only, "tmpfs", list(vol.options))
            )
            continue
        host = vol.host_path
        if sub:
            if ".." in Path(sub).parts or os.path.isabs(sub):
                raise VolumeError(vm.name, f"invalid subPath {sub!r}")
            host = os.path.join(host, sub)
            if not os.path.lexists(host):
                os.makedirs(host, mode=0o777, exist_ok=True)
        mounts.append(Mount(host, vm.mountPath, vm.readOnly or vol.read_only))
    return mounts
