"""Image and video screening: nudity, realistic human faces and protected persons' faces.

Used before any GPU time on image-to-video / video-to-video inputs, and on generated frames before a
video is released. Pure library code: no service, no gRPC. ``screen_media(frames, policy)`` returns a
:class:`MediaDecision`; frames come from :func:`load_image` / :func:`sample_video`.
"""

from veriframe.safety.media.frames import MediaError, load_image, sample_video
from veriframe.safety.media.screen import MediaDecision, MediaScreener, default_screener

__all__ = ["MediaDecision", "MediaError", "MediaScreener", "default_screener", "load_image", "sample_video"]
