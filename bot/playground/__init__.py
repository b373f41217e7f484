"""The local web playground: a third chat adapter (platform ``playground``) on the same engine.

``from_settings(settings)`` gives the adapter; ``bot.runner.serve(settings, [adapter])`` runs it with
the engine, the delivery loop and the worker. See docs/playground.md.
"""

from bot.playground.playground_adapter import PlaygroundAdapter, PlaygroundSettings, from_settings

__all__ = ["PlaygroundAdapter", "PlaygroundSettings", "from_settings"]
