"""The REST and WebSocket service and the dashboard it serves (``alphaloop serve``).

An interface layer: it talks to people and programs and composes :mod:`alphaloop.app`; it holds
no domain logic of its own.
"""
