"""The project's own suite.

``plugboard.testing`` (the helpers and quality gates it shares with plugin authors) is a
pytest plugin (``pytest11``), so pytest loads it first and rewrites its asserts. In an
environment installed before that entry point existed, ``tests.helpers`` would import it
first: have pytest rewrite it then too, so its failures explain themselves.
"""

import sys

import pytest

if "plugboard.testing" not in sys.modules:
    pytest.register_assert_rewrite("plugboard.testing")
