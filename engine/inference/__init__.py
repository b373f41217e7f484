"""The inference side: the only package that imports torch, torchvision and transformers."""
