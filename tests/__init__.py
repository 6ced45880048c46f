"""The project's own suite.

``plugboard.testing`` (the helpers and quality gates it shares with plugin authors) is
imported by ``tests.helpers`` before pytest would load it as a plugin: have pytest rewrite
its asserts anyway, so their failures explain themselves.
"""

import pytest

pytest.register_assert_rewrite("plugboard.testing")
