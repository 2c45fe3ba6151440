"""prepare_struct_types: once kubelite's Struct classes are prepared, threads may decode them for
the first time at once (msgspec 0.22 crashes the interpreter when they race to prepare one)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from kubelite.api.core_v1 import Pod
from kubelite.api.model import prepare_struct_types

RACE = textwrap.dedent(
    '''
    import sys, threading, types
    import msgspec
    from kubelite.api.model import prepare_struct_types

    sys.setswitchinterval(1e-6)
    SOURCE = """
    from __future__ import annotations
    import msgspec
    class Inner(msgspec.Struct, omit_defaults=True):
        a: int = 0
        b: list[str] = []
        c: dict[str, str] = {}
    class Mid(msgspec.Struct, omit_defaults=True):
        x: list[Inner] = []
        y: Inner | None = None
    class Outer(msgspec.Struct, omit_defaults=True):
        m: Mid = msgspec.field(default_factory=Mid)
        n: list[Mid] = []
        o: dict[str, Inner] = {}
        p: list[Outer] = []
    """
    DATA = b'{"m":{"x":[{"a":1,"b":["q"]}],"y":{"a":2}},"n":[{}],"o":{"k":{"a":3}},"p":[{"n":[{}]}]}'
    for i in range(200):
        module = types.ModuleType(f"kubelite._race_{i}")
        sys.modules[module.__name__] = module
        exec(compile(SOURCE, module.__name__, "exec"), module.__dict__)
        prepare_struct_types()
        start = threading.Barrier(4)

        def decode(cls=module.Outer):
            start.wait()
            msgspec.json.decode(DATA, type=cls)

        threads = [threading.Thread(target=decode) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print("ok")
    '''
)


def test_prepared_classes_decode_in_threads_at_once() -> None:
    # Without the prepare_struct_types() line this crashes (SIGSEGV) within 100 rounds.
    done = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])


def test_counts_kubelite_classes_only() -> None:
    prepared = prepare_struct_types()
    assert prepared > 100  # the API models
    assert Pod.__module__.startswith("kubelite.")
