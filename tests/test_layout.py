"""The test tree's own rules.

Test folders have no ``__init__.py``, so pytest imports every test module
by its bare file name: two files with the same name in different folders
stop the whole run at collection ("import file mismatch"). Helpers shared
by a folder's tests live in a uniquely named module for the same reason
(every folder's ``conftest`` is imported as ``conftest``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parent


def test_test_module_names_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    assert [name for name, count in names.items() if count > 1] == []


def test_nobody_imports_from_conftest() -> None:
    offenders = [
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if p != Path(__file__) and "from conftest import" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
