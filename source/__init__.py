"""Headless Wan video worker: the queue, the worker loop, the handlers, media tools and the render bridge."""

__version__ = "0.2.0"
