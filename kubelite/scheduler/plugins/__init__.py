"""Scheduler plugins, one module each, with ``NAME`` and ``new(args, handle)``.

They are listed in ``kubelite.scheduler.registry``; ``helpers`` holds what
several plugins share.
"""
