"""Generate kubelite's typed API models from Kubernetes' Go API types.

Usage::

    .venv/bin/python tools/genmodels.py /work/.mirror/kubernetes+api/repo \\
        /work/.mirror/kubernetes+apimachinery/repo [--out kubelite/api] [--rev HEAD]

Both arguments are git directories (bare repositories are fine): the sources
are read with ``git show <rev>:<path>``, so no work tree is needed. The
generator writes one module per API group version (``core_v1.py``,
``apps_v1.py``, ...) plus ``meta.py`` (apimachinery's meta/v1 and
version.Info), then runs ``ruff format`` over them when ruff is installed.

How it works:

1. A small line-based reader of Go source collects, per package, the import
   aliases, every ``type X struct {...}`` (fields, struct tags and the
   ``// +marker`` comments above each field) and every other named type
   (``type RestartPolicy string``, ``type ResourceList map[...]...``).
2. The roots of a package are its structs that embed ``TypeMeta`` (kinds,
   their lists, options and review objects); every struct reachable from a
   root is generated too, in the module of the package that declares it.
   Structs of packages that have no module of ours (an alpha group a stable
   type points at) are generated into the module that references them.
3. Go types map onto Python the way Go's ``encoding/json`` prints them; the
   rules are in ``kubelite/api/model.py`` and in ``Field.render`` below.
   Notably a non-``omitempty`` scalar, list or map is always encoded (its
   default is a factory, which ``omit_defaults`` never treats as a default),
   so ``"ready": false`` and ``"restartCount": 0`` appear as Kubernetes
   prints them; ``omitempty`` ones use plain zero defaults and are omitted.
4. Embedded structs without a JSON name (``TypeMeta``, ``VolumeSource`` in
   ``Volume``, ...) are flattened in place, as Go's JSON encoder does.

Nothing of the Go comments is copied into the output; class docstrings are
our own one-liners.
"""

from __future__ import annotations

import argparse
import keyword
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

API = "k8s.io/api/"
META = "k8s.io/apimachinery/pkg/apis/meta/v1"
VERSION = "k8s.io/apimachinery/pkg/version"

# package path -> (python module, group/version label for docstrings)
MODULES: dict[str, tuple[str, str]] = {
    META: ("meta", "meta/v1"),
    VERSION: ("meta", "version"),
    API + "core/v1": ("core_v1", "core/v1"),
    API + "apps/v1": ("apps_v1", "apps/v1"),
    API + "batch/v1": ("batch_v1", "batch/v1"),
    API + "autoscaling/v1": ("autoscaling_v1", "autoscaling/v1"),
    API + "autoscaling/v2": ("autoscaling_v2", "autoscaling/v2"),
    API + "coordination/v1": ("coordination_v1", "coordination.k8s.io/v1"),
    API + "discovery/v1": ("discovery_v1", "discovery.k8s.io/v1"),
    API + "events/v1": ("events_v1", "events.k8s.io/v1"),
    API + "networking/v1": ("networking_v1", "networking.k8s.io/v1"),
    API + "storage/v1": ("storage_v1", "storage.k8s.io/v1"),
    API + "scheduling/v1": ("scheduling_v1", "scheduling.k8s.io/v1"),
    API + "policy/v1": ("policy_v1", "policy/v1"),
    API + "rbac/v1": ("rbac_v1", "rbac.authorization.k8s.io/v1"),
    API + "authorization/v1": ("authorization_v1", "authorization.k8s.io/v1"),
    API + "authentication/v1": ("authentication_v1", "authentication.k8s.io/v1"),
    API + "certificates/v1": ("certificates_v1", "certificates.k8s.io/v1"),
}

# Types whose JSON form is not their Go structure: (package, name) -> kind.
SPECIAL: dict[tuple[str, str], str] = {
    (META, "Time"): "time",
    (META, "MicroTime"): "time",
    (META, "Duration"): "str",
    (META, "FieldsV1"): "any",
    ("k8s.io/apimachinery/pkg/api/resource", "Quantity"): "str",
    ("k8s.io/apimachinery/pkg/util/intstr", "IntOrString"): "intstr",
    ("k8s.io/apimachinery/pkg/runtime", "RawExtension"): "any",
    ("k8s.io/apimachinery/pkg/runtime", "Object"): "any",
    ("k8s.io/apimachinery/pkg/runtime", "Unknown"): "any",
    ("k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1", "JSON"): "any",
}
STR_PACKAGES = {"k8s.io/apimachinery/pkg/types"}  # UID, NodeName, ...: all strings

GO_SCALARS = {
    "string": "str",
    "bool": "bool",
    "byte": "int",
    "rune": "int",
    "int": "int",
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "int",
    "uint": "int",
    "uint8": "int",
    "uint16": "int",
    "uint32": "int",
    "uint64": "int",
    "float32": "float",
    "float64": "float",
}
ZERO = {"str": '""', "int": "0", "float": "0.0", "bool": "False"}

# --------------------------------------------------------------------------- Go reading


@dataclass
class GoField:
    name: str  # Go field name; "" for an embedded field
    type: str  # Go type expression
    tags: dict[str, str]
    markers: list[tuple[str, str]]  # (marker, value) from // +marker=value comments


@dataclass
class GoStruct:
    name: str
    fields: list[GoField]
    file: str


@dataclass
class GoPackage:
    path: str
    imports: dict[str, str] = field(default_factory=dict)  # alias -> package path
    structs: dict[str, GoStruct] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)  # name -> underlying Go type


TAG_RE = re.compile(r'(\w+):"([^"]*)"')
TYPE_RE = re.compile(r"^type\s+(\w+)\s+(=\s*)?(.+?)\s*$")
FIELD_RE = re.compile(r"^(\w+)\s+([^`]+?)\s*(?:`([^`]*)`)?\s*(?://.*)?$")
EMBED_RE = re.compile(r"^(\*?[\w.]+)\s*(?:`([^`]*)`)?\s*(?://.*)?$")
MARKER_RE = re.compile(r"^//\s*\+([\w.:-]+)(?:=(.*))?$")


def parse_go(pkg: GoPackage, text: str, filename: str) -> None:
    """Add the imports, structs and named types of one Go file to ``pkg``."""
    lines = text.splitlines()
    i = 0
    in_imports = False
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if in_imports:
            if line == ")":
                in_imports = False
            else:
                _add_import(pkg, line)
            continue
        if line.startswith("import ("):
            in_imports = True
            continue
        if line.startswith("import "):
            _add_import(pkg, line[len("import ") :])
            continue
        m = TYPE_RE.match(line)
        if not m:
            continue
        name, _, rest = m.groups()
        if rest.startswith("struct"):
            fields: list[GoField] = []
            if not rest.rstrip().endswith("{}"):
                i = _parse_struct_body(lines, i, fields)
            pkg.structs[name] = GoStruct(name, fields, filename)
        elif not rest.startswith("interface") and not rest.startswith("func"):
            pkg.named[name] = rest.split("//")[0].strip()


def _add_import(pkg: GoPackage, line: str) -> None:
    line = line.split("//")[0].strip()
    if not line:
        return
    m = re.match(r'^(?:(\w+)\s+)?"([^"]+)"$', line)
    if m:
        alias, path = m.groups()
        pkg.imports[alias or path.rsplit("/", 1)[-1]] = path


def _parse_struct_body(lines: list[str], i: int, fields: list[GoField]) -> int:
    markers: list[tuple[str, str]] = []
    depth = 1
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if line.startswith("//"):
            mm = MARKER_RE.match(line)
            if mm:
                markers.append((mm.group(1), (mm.group(2) or "").strip()))
            continue
        if not line:
            continue
        if line.startswith("/*"):
            while "*/" not in line and i < len(lines):
                line = lines[i]
                i += 1
            continue
        if line.startswith("}"):
            depth -= 1
            if depth == 0:
                return i
            continue
        if line.endswith("{"):  # an anonymous nested struct: not used by API types
            raise ValueError(f"unsupported nested struct: {line}")
        m = FIELD_RE.match(line)
        if m and not m.group(2).startswith("//") and m.group(1) not in {"struct"}:
            name, gotype, tag = m.groups()
            fields.append(GoField(name, gotype.strip(), dict(TAG_RE.findall(tag or "")), markers))
        else:
            e = EMBED_RE.match(line)
            if not e:
                raise ValueError(f"cannot parse struct line: {line!r}")
            gotype, tag = e.groups()
            fields.append(GoField("", gotype, dict(TAG_RE.findall(tag or "")), markers))
        markers = []
    raise ValueError("unterminated struct")


# --------------------------------------------------------------------------- sources


class Sources:
    """Loads Go packages from the two git directories on demand."""

    def __init__(self, api_repo: str, machinery_repo: str, rev: str) -> None:
        self.repos = {"k8s.io/api/": api_repo, "k8s.io/apimachinery/": machinery_repo}
        self.rev = rev
        self.packages: dict[str, GoPackage] = {}

    def git(self, repo: str, *args: str) -> str:
        return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout

    def commit(self, prefix: str) -> str:
        return self.git(self.repos[prefix], "rev-parse", "--short=12", self.rev).strip()

    def package(self, path: str) -> GoPackage:
        if path in self.packages:
            return self.packages[path]
        prefix = next((p for p in self.repos if path.startswith(p)), None)
        if prefix is None:
            raise KeyError(f"no source for Go package {path}")
        repo, sub = self.repos[prefix], path[len(prefix) :]
        names = self.git(repo, "ls-tree", "--name-only", self.rev, sub + "/").split()
        pkg = GoPackage(path)
        for name in names:
            base = name.rsplit("/", 1)[-1]
            if not base.endswith(".go") or base.endswith("_test.go") or "generated" in base:
                continue
            if path == META and base not in {"types.go", "watch.go"}:
                continue
            parse_go(pkg, self.git(repo, "show", f"{self.rev}:{name}"), base)
        self.packages[path] = pkg
        return pkg


# --------------------------------------------------------------------------- mapping


@dataclass
class PyType:
    expr: str  # the annotation expression
    kind: str  # scalar | struct | list | dict | bytes | any | time | intstr
    scalar: str = ""  # str/int/float/bool for scalars


@dataclass
class Field:
    attr: str
    json: str
    type: PyType
    pointer: bool
    omitempty: bool
    wire: tuple[int, str, str, str, tuple[str, ...]]

    def render(self) -> str:
        t = self.type
        if t.kind == "time" or (self.pointer and t.kind not in {"any", "intstr"}):
            ann, default = (t.expr if t.kind == "time" else f"{t.expr} | None"), "None"
        elif t.kind == "intstr":
            ann, default = "int | str | None", "None"
        elif t.kind == "any":
            ann, default = "Any", "None"
        elif t.kind == "struct":
            ann, default = t.expr, f"msgspec.field(default_factory={t.expr})"
        elif t.kind in {"list", "dict"}:
            factory = {"list": "list", "dict": "dict"}[t.kind]
            if not self.omitempty:  # always encoded, like Go's non-omitempty fields
                factory = "lambda: []" if t.kind == "list" else "lambda: {}"
            ann, default = t.expr, f"msgspec.field(default_factory={factory})"
        elif t.kind == "bytes":
            ann, default = "bytes", ('b""' if self.omitempty else "msgspec.field(default_factory=bytes)")
        else:
            ann = t.scalar
            default = ZERO[t.scalar] if self.omitempty else f"msgspec.field(default_factory={t.scalar})"
        if self.attr != self.json:
            if default.startswith("msgspec.field("):
                default = default.replace("msgspec.field(", f"msgspec.field(name={self.json!r}, ", 1)
            else:
                default = f"msgspec.field(name={self.json!r}, default={default})"
        wire = _render_wire(self.wire)
        if wire:
            ann = f"Annotated[{ann}, {wire}]"
        return f"    {self.attr}: {ann} = {default}"


def _render_wire(w: tuple[int, str, str, str, tuple[str, ...]]) -> str:
    names = ("proto", "strategy", "key", "list_type", "map_keys")
    values: tuple[object, ...] = w
    parts: list[str] = []
    positional = True
    for n, v in zip(names, values, strict=True):
        if not v:
            positional = False
            continue
        text = repr(v)  # map_keys is a tuple already
        parts.append(text if positional else f"{n}={text}")
    return f"Wire({', '.join(parts)})" if parts else ""


def py_attr(json_name: str) -> str:
    attr = json_name
    if not attr.isidentifier():
        attr = re.sub(r"\W", "_", attr).strip("_") + "_"
    if keyword.iskeyword(attr):
        attr += "_"
    return attr


@dataclass
class Class:
    name: str
    label: str
    fields: list[Field]


class Generator:
    def __init__(self, sources: Sources) -> None:
        self.src = sources
        self.classes: dict[str, dict[str, Class]] = {}  # module -> class name -> Class
        self.origin: dict[tuple[str, str], tuple[str, str]] = {}  # (pkg, struct) -> (module, class name)
        self.queue: list[tuple[str, str, str]] = []  # (pkg, struct, module)

    # -- type resolution

    def resolve(self, gotype: str, pkg: GoPackage, module: str) -> tuple[PyType, bool]:
        """The Python type of a Go type expression, and whether it was a pointer."""
        pointer = False
        if gotype.startswith("*"):
            pointer, gotype = True, gotype[1:]
        return self._resolve(gotype, pkg, module), pointer

    def _resolve(self, t: str, pkg: GoPackage, module: str) -> PyType:
        t = t.strip()
        if t.startswith("*"):
            inner = self._resolve(t[1:], pkg, module)
            if inner.kind in {"any", "intstr", "time"}:
                return inner
            return PyType(f"{inner.expr} | None", "optional")
        if t == "[]byte":
            return PyType("bytes", "bytes")
        if t.startswith("[]"):
            inner = self._resolve(t[2:], pkg, module)
            return PyType(f"list[{_elem(inner)}]", "list")
        if t.startswith("map["):
            depth, j = 0, 3
            for j in range(3, len(t)):
                depth += {"[": 1, "]": -1}.get(t[j], 0)
                if depth == 0:
                    break
            k = self._resolve(t[4:j], pkg, module)
            v = self._resolve(t[j + 1 :], pkg, module)
            return PyType(f"dict[{_elem(k)}, {_elem(v)}]", "dict")
        if t in {"interface{}", "any"}:
            return PyType("Any", "any")
        if t in GO_SCALARS:
            s = GO_SCALARS[t]
            return PyType(s, "scalar", s)
        if "." in t:
            alias, name = t.split(".", 1)
            path = pkg.imports[alias]
        else:
            path, name = pkg.path, t
        special = SPECIAL.get((path, name))
        if special == "time":
            return PyType("str | None", "time")
        if special == "str" or path in STR_PACKAGES:
            return PyType("str", "scalar", "str")
        if special == "intstr":
            return PyType("int | str", "intstr")
        if special == "any":
            return PyType("Any", "any")
        target = self.src.package(path)
        if name in target.structs:
            return PyType(self.ref(path, name, module), "struct")
        if name in target.named:
            underlying = target.named[name].lstrip("= ").strip()
            return self._resolve(underlying, target, module)
        raise KeyError(f"unknown Go type {path}.{name}")

    def ref(self, path: str, name: str, module: str) -> str:
        """The Python expression naming struct ``path.name`` from ``module``; queues it."""
        key = (path, name)
        if key not in self.origin:
            home = MODULES[path][0] if path in MODULES else module
            self.origin[key] = (home, name)
            self.queue.append((path, name, home))
        home, cls = self.origin[key]
        return cls if home == module else f"{home}.{cls}"

    # -- classes

    def build(self, path: str, name: str, module: str) -> None:
        pkg = self.src.package(path)
        label = MODULES[path][1] if path in MODULES else path.removeprefix(API)
        cls = Class(name, label, [])
        self._fields(pkg.structs[name], pkg, module, cls.fields)
        existing = self.classes.setdefault(module, {})
        if name in existing:
            raise ValueError(f"class name clash in {module}: {name}")
        existing[name] = cls

    def _fields(self, st: GoStruct, pkg: GoPackage, module: str, out: list[Field]) -> None:
        for f in st.fields:
            json_tag = f.tags.get("json", "")
            if json_tag == "-":
                continue
            parts = json_tag.split(",")
            json_name = parts[0]
            if not f.name:  # embedded
                if not json_name:  # inline: flatten the embedded struct in place
                    t = f.type.lstrip("*")
                    if "." in t:
                        alias, n = t.split(".", 1)
                        target = self.src.package(pkg.imports[alias])
                    else:
                        target, n = pkg, t
                    start = len(out)
                    self._fields(target.structs[n], target, module, out)
                    if "protobuf" not in f.tags:  # e.g. TypeMeta: not part of the protobuf message
                        for g in out[start:]:
                            g.wire = (0, *g.wire[1:])
                    continue
            elif not f.name[0].isupper():
                continue
            if not json_name:
                json_name = f.name
            pytype, pointer = self.resolve(f.type, pkg, module)
            if pytype.kind == "optional":  # a pointer to a pointer: treat as one
                pytype = PyType(pytype.expr.removesuffix(" | None"), "scalar", "str")
            markers = dict(f.markers)
            proto_tag = f.tags.get("protobuf", "").split(",")
            proto = int(proto_tag[1]) if len(proto_tag) > 1 and proto_tag[1].isdigit() else 0
            strategy = f.tags.get("patchStrategy", markers.get("patchStrategy", ""))
            key = f.tags.get("patchMergeKey", markers.get("patchMergeKey", ""))
            list_type = markers.get("listType", "")
            map_keys = tuple(v for k, v in f.markers if k == "listMapKey")
            out.append(
                Field(
                    attr=py_attr(json_name),
                    json=json_name,
                    type=pytype,
                    pointer=pointer,
                    omitempty="omitempty" in parts[1:],
                    wire=(proto, strategy, key, list_type, map_keys),
                )
            )

    def run(self, roots: list[tuple[str, str]]) -> None:
        for path, name in roots:
            self.ref(path, name, MODULES[path][0])
        while self.queue:
            path, name, module = self.queue.pop(0)
            self.build(path, name, module)

    # -- output

    def ordered(self, module: str) -> list[Class]:
        """Classes in discovery order, except that a struct used as a value default comes first."""
        classes = self.classes[module]
        done: dict[str, Class] = {}

        def emit(cls: Class) -> None:
            if cls.name in done:
                return
            done[cls.name] = cls  # Go forbids value cycles, so marking early is safe
            for f in cls.fields:
                if f.type.kind == "struct" and not f.pointer and f.type.expr in classes:
                    emit(classes[f.type.expr])
            del done[cls.name]
            done[cls.name] = cls

        for cls in classes.values():
            emit(cls)
        return list(done.values())

    def render(self, module: str, header: str) -> str:
        body: list[str] = []
        for cls in self.ordered(module):
            body.append("")
            body.append("")
            body.append(f"class {cls.name}(Model):")
            body.append(f'    """{cls.name} ({cls.label})."""')
            if cls.fields:
                body.append("")
            names = {"str", "int", "float", "bool", "bytes", "list", "dict", "Any", "msgspec"}
            names |= {m for m, _ in MODULES.values()}
            for f in cls.fields:
                if f.attr in names:
                    raise ValueError(f"{module}.{cls.name}.{f.attr} shadows a name used in annotations")
                body.append(f.render())
        text = "\n".join(body)
        uses = sorted({m for m, _ in MODULES.values() if m != module and re.search(rf"\b{m}\.[A-Z]", text)})
        typing_names = ["Annotated"] if "Annotated[" in text else []
        if re.search(r"\bAny\b", text):
            typing_names.append("Any")
        head = [f'"""{header}"""', "", "from __future__ import annotations", ""]
        if typing_names:
            head.append(f"from typing import {', '.join(typing_names)}")
            head.append("")
        head.append("import msgspec")
        head.append("")
        if uses:
            head.append(f"from kubelite.api import {', '.join(uses)}")
        head.append("from kubelite.api.model import Model" + (", Wire" if "Wire(" in text else ""))
        return "\n".join(head) + "\n" + text + "\n"


def _elem(t: PyType) -> str:
    return "Any" if t.kind == "any" else t.expr


def roots_of(src: Sources, path: str) -> list[tuple[str, str]]:
    """The structs of ``path`` that embed TypeMeta (in its main types file), in source order."""
    pkg = src.package(path)
    if path in {META, VERSION}:
        return [(path, n) for n in pkg.structs]
    out = []
    for name, st in pkg.structs.items():
        if st.file != "types.go":
            continue
        if any(not f.name and f.type.endswith("TypeMeta") for f in st.fields):
            out.append((path, name))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("api_repo", help="git directory of k8s.io/api")
    ap.add_argument("machinery_repo", help="git directory of k8s.io/apimachinery")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "kubelite" / "api"))
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--no-format", action="store_true", help="do not run ruff format on the output")
    args = ap.parse_args(argv)

    src = Sources(args.api_repo, args.machinery_repo, args.rev)
    gen = Generator(src)
    roots: list[tuple[str, str]] = []
    for path in MODULES:
        roots += roots_of(src, path)
    gen.run(roots)

    api_commit = src.commit("k8s.io/api/")
    machinery_commit = src.commit("k8s.io/apimachinery/")
    written: list[str] = []
    for path, (module, label) in MODULES.items():
        if path == VERSION or module in written:
            continue
        if module == "meta":
            source = f"k8s.io/apimachinery {machinery_commit}: pkg/apis/meta/v1 and pkg/version"
        else:
            source = f"k8s.io/api {api_commit}: {path.removeprefix(API)}"
        header = (
            f"Typed models of {label}, generated by tools/genmodels.py from {source}.\n\n"
            "Do not edit by hand: change the generator and run it again."
        )
        out = Path(args.out) / f"{module}.py"
        out.write_text(gen.render(module, header))
        written.append(module)
    files = [str(Path(args.out) / f"{m}.py") for m in written]
    if not args.no_format:
        try:
            ruff = [sys.executable, "-m", "ruff"]
            subprocess.run([*ruff, "check", "-q", "--fix", "--select", "I", *files], check=False)
            subprocess.run([*ruff, "format", "-q", *files], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"ruff format skipped: {exc}", file=sys.stderr)
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
