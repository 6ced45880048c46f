"""The built-in ``comms`` plugin: texts through Twilio and AI voice calls through Vapi."""

from plugins.comms import plugin

__all__ = ["plugin"]
