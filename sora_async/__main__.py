"""``python -m sora_async``: the same as the ``sora-async`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
