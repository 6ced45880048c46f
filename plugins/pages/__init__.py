"""The built-in ``pages`` plugin: Puck editor pages, published to storefronts by domain."""

from plugins.pages import plugin

__all__ = ["plugin"]
