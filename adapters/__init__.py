"""I/O adapters for run-lifecycle: the OpenAI run controller and the Assistants simulator.

Note: the top-level import name ``adapters`` is also used by an unrelated project on PyPI.
"""
