"""The seed document's example request body, as the relay's API reference gives it."""

from __future__ import annotations

from typing import Any

# The example body of seed/create-video.zh.md, field for field and in its order, except that the seed's
# "width": 1, "height": 1, "n_frames": 1 are placeholders that API.md's rules reject (the six sizes,
# 150 or 300 frames); here they are replaced by a valid size and length.

SEED_EXAMPLE: dict[str, Any] = {
    "actions": [{"time": 0, "description": "string"}],
    "inpaint_items": [
        {
            "type": "image",
            "url": "string",
            "frame_index": 0,
            "preset_id": None,
            "generation_id": None,
            "upload_media_id": "string",
            "source_start_frame": 0,
            "source_end_frame": 0,
        }
    ],
    "type": "video_gen",
    "style": "natural",
    "prompt": "string",
    "width": 1280,
    "height": 720,
    "n_frames": 150,
    "n_variants": 1,
    "sdedit": {"amount": 1, "source_generation_id": "string", "source_upload_media_id": "string"},
    "operation": "simple_compose",
    "model": "turbo",
}
