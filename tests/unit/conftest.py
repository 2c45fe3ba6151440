"""Unit tests' shared setup: none but this folder on ``sys.path``.

pytest puts the folder of this conftest on ``sys.path`` (the test tree has
no packages), so the uniquely named helper modules here, such as
``csr_testing``, import by their bare names from every unit test folder.
"""
