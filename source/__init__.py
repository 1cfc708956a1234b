"""Headless Wan video worker: the queue, the worker loop, the handlers, media tools and the render bridge."""
