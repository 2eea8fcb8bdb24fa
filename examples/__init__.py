"""Runnable examples of sora_async, each tested against the mock relay by tests/test_examples.py.

* ``batch_submit.py``: many requests from async code with ``submit_many``, keys, tags, an early stop.
* ``wait_for_videos.py``: wait for tasks with progress, then stream the videos to files.
* ``aiohttp_app.py``: one client per process in an aiohttp app, errors mapped to HTTP answers.
* ``fastapi_app.py``: the same in a FastAPI app, with the client opened in the lifespan.

Run one from the repository root, e.g. ``python examples/batch_submit.py --help``.
"""
