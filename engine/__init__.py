"""campaignbot engine: the platform-neutral core.

Importing this package must never import torch, torchvision or transformers; only
``engine.inference`` does (checked by ``tests/bot/test_boundaries.py``).
"""

__version__ = "0.1.0"
