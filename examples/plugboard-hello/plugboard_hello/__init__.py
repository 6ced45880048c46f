"""plugboard-hello: an example third-party Plugboard plugin.

The kernel loads :mod:`plugboard_hello.plugin` through the ``plugboard.plugins`` entry
point declared in ``pyproject.toml``; nothing here needs importing by hand.
"""
