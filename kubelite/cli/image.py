"""``kubelite image``: the node's image store (``<data-dir>/images``) from the command line.

- ``kubelite image import FILE [--name REF]``  a docker-archive or oci-archive tarball
- ``kubelite image ls [-q]``                   the images, as ``crictl images`` lists them
- ``kubelite image rm REF...``                 untag, and remove the image once no name is left
- ``kubelite image pull REF``                  pull from the registry (mirrors from registries.yaml)

All take ``--data-dir`` (the node's) and ``--registries`` (default
``<data-dir>/registries.yaml``). Safe to run while the node agent runs: the
store locks its index and renames content into place.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from kubelite.apiserver.config import default_data_dir
from kubelite.kubelet.images import ImageError, ImageInfo, ImageService
from kubelite.kubelet.images.config import RegistryConfigError
from kubelite.kubelet.images.reference import InvalidReference, parse_reference


def add_image_arguments(p: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", type=Path, default=None, help=f"the node's data dir (default {default_data_dir()})"
    )
    common.add_argument(
        "--registries", type=Path, default=None, help="registries.yaml (default <data-dir>/registries.yaml)"
    )
    sub = p.add_subparsers(dest="image_command", metavar="SUBCOMMAND", required=True)
    imp = sub.add_parser("import", parents=[common], help="import a docker-archive or oci-archive tarball")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--name", default=None, metavar="REF", help="tag the (single) image with this name")
    ls = sub.add_parser("ls", parents=[common], help="list images")
    ls.add_argument("-q", "--quiet", action="store_true", help="only image ids")
    rm = sub.add_parser("rm", parents=[common], help="remove images")
    rm.add_argument("refs", nargs="+", metavar="REF")
    pull = sub.add_parser("pull", parents=[common], help="pull an image from its registry")
    pull.add_argument("ref", metavar="REF")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _rows(infos: list[ImageInfo]) -> list[tuple[str, str, str, str]]:
    rows = []
    for info in infos:
        short = info.id.removeprefix("sha256:")[:13]
        names = info.names or [""]
        for name in names:
            if name:
                r = parse_reference(name)
                rows.append((r.repository, r.tag or "<none>", short, _size(info.size)))
            else:
                repo = info.repo_digests[0].partition("@")[0] if info.repo_digests else "<none>"
                rows.append((repo, "<none>", short, _size(info.size)))
    return rows


async def _run(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir or default_data_dir()).expanduser().absolute()
    service = ImageService(data_dir, args.registries)
    try:
        cmd = args.image_command
        if cmd == "import":
            if not args.file.is_file():
                print(f"kubelite: {args.file}: no such file", file=sys.stderr)
                return 1
            for info in await service.import_archive(args.file, name=args.name):
                print(f"imported {', '.join(info.names) or '<unnamed>'} {info.id}")
        elif cmd == "ls":
            infos = await service.list()
            if args.quiet:
                for info in infos:
                    print(info.id)
                return 0
            rows = [("IMAGE", "TAG", "IMAGE ID", "SIZE"), *_rows(infos)]
            widths = [max(len(r[i]) for r in rows) for i in range(3)]
            for r in rows:
                print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[3])
        elif cmd == "rm":
            code = 0
            for ref in args.refs:
                try:
                    await service.remove(ref)
                    print(f"Deleted: {ref}")
                except ImageError as e:
                    print(f"kubelite: {e}", file=sys.stderr)
                    code = 1
            return code
        elif cmd == "pull":
            info = await service.pull(args.ref)
            print(f"Image is up to date for {info.ref} ({info.id})")
        return 0
    finally:
        await service.close()


def run_image(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        return asyncio.run(_run(args))
    except (ImageError, InvalidReference, RegistryConfigError) as e:
        print(f"kubelite: {e}", file=sys.stderr)
        return 1
