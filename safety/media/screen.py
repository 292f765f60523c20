"""The media decision: nudity, realistic faces and protected persons, under the policy's ``media`` rules.

Inputs (image-to-video, video-to-video) are checked for all three. Generated frames (``kind="output"``)
are checked for nudity and protected persons only: a generated face is not a real person's by default,
so the face rule would hold every video with people in it.

Fail closed: a check that cannot run raises :class:`MediaCheckError`; the caller must not go on.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from veriframe.safety.media.frames import as_rgb8, spread
from veriframe.safety.policy import MediaPolicy, Policy
from veriframe.safety.screen import DecisionKind, user_message

_SEVERITY = {"allow": 0, "review": 1, "block": 2}


class MediaCheckError(RuntimeError):
    """A media check could not run (a model or package missing): fail closed."""


@dataclass(frozen=True)
class MediaDecision:
    decision: DecisionKind
    categories: list[str]
    rule: str | None  # internal: which check decided, e.g. "media.nudity>=0.85", "media.protected_faces[2]"
    scores: dict[str, float]  # nudity (max over frames), faces (most in one frame), match_distance
    frames: int
    kind: str
    policy_version: int
    user_message: str
    checks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class MediaScreener:
    """Holds the image models (loaded on first use, once) and screens frames against a policy."""

    def __init__(self, nudity=None, faces=None) -> None:
        self._nudity, self._faces = nudity, faces

    def nudity(self):
        if self._nudity is None:
            try:
                from veriframe.safety.media.nudity import default_nudity_scorer

                self._nudity = default_nudity_scorer()
            except (ImportError, OSError) as exc:
                raise MediaCheckError(f"the nudity check cannot run: {exc}") from exc
        return self._nudity

    def faces(self):
        if self._faces is None:
            try:
                from veriframe.safety.media.faces import default_face_analyzer

                self._faces = default_face_analyzer()
            except (ImportError, OSError, RuntimeError) as exc:
                raise MediaCheckError(f"the face check cannot run: {exc}") from exc
        return self._faces

    def screen(
        self, frames: Sequence[np.ndarray], policy: Policy, *, kind: Literal["input", "output"] = "input"
    ) -> MediaDecision:
        if not frames:
            raise ValueError("no frames to screen")
        m = policy.media_policy
        hits: list[tuple[str, str, str]] = []  # (action, category, rule)
        nudity = max(self.nudity().score(frames))
        if nudity >= m.nudity_block:
            hits.append(("block", "sexual", f"media.nudity>={m.nudity_block}"))
        elif nudity >= m.nudity_review:
            hits.append(("review", "sexual", f"media.nudity>={m.nudity_review}"))
        scores = {"nudity": round(float(nudity), 4)}
        from veriframe.safety.media.faces import CnnUnavailable

        try:
            face_hits, face_scores = _face_hits(self.faces(), frames, m, kind)
        except CnnUnavailable as exc:
            raise MediaCheckError(f"the face check cannot run: {exc}") from exc
        hits += face_hits
        scores.update(face_scores)
        decision: DecisionKind = "allow"
        for action, _, _ in hits:
            if _SEVERITY[action] > _SEVERITY[decision]:
                decision = action  # type: ignore[assignment]
        deciding = [h for h in hits if h[0] == decision]
        categories = list(dict.fromkeys(c for _, c, _ in deciding + hits)) if decision != "allow" else []
        return MediaDecision(
            decision=decision,
            categories=categories,
            rule=deciding[0][2] if deciding else None,
            scores=scores,
            frames=len(frames),
            kind=kind,
            policy_version=policy.version,
            user_message=_media_message(decision, categories, kind),
            checks=[self.nudity().name, self.faces().name],
        )


def _face_hits(analyzer, frames, m: MediaPolicy, kind: str) -> tuple[list[tuple[str, str, str]], dict]:
    """Protected-person matches (block) and realistic faces on inputs (``m.face_action``)."""
    from veriframe.safety.media import faces

    refs = np.array([f.embedding for f in m.protected_faces], dtype=np.float32) if m.protected_faces else None
    embed = refs is not None
    found = [analyzer.faces(frame, embed=embed, fallback=False) for frame in frames]
    face_rule = kind == "input" and not m.consent_attested and m.face_action != "allow"
    incomplete = False
    # The CNN costs ~40 HOG passes, so it runs only where its answer can change the decision: any
    # face-free frame may hide a protected person, but for the face rule one face anywhere is enough.
    if refs is not None or (face_rule and not any(found)):
        deadline = time.monotonic() + faces.CNN_BUDGET_S
        for i in spread([i for i, f in enumerate(found) if not f], faces.MAX_CNN_FRAMES):
            result = analyzer.fallback_faces(frames[i], embed=embed, wait_s=deadline - time.monotonic())
            if result is None or time.monotonic() > deadline:
                incomplete = True  # out of time: what the unchecked frames hold is unknown
                found[i] = result or []
                break
            found[i] = result
            if refs is None and found[i]:
                break
    most, best = max(len(f) for f in found), (None, float("inf"))
    matches = []  # (distance, reference, frame, face) within face_match_distance
    for n, face in ((n, x) for n, f in enumerate(found) for x in f) if refs is not None else ():
        i, dist = faces.nearest(face.embedding, refs)
        best = min(best, (i, dist), key=lambda b: b[1])
        if dist <= m.face_match_distance:
            matches.append((dist, i, n, face))
    hits = []
    scores: dict[str, float] = {"faces": float(most)}
    if best[0] is not None:
        scores["match_distance"] = round(best[1], 4)
    if matches:
        hits.append(_match_hit(analyzer, frames, sorted(matches, key=lambda x: x[0]), scores))
    if most and face_rule:
        hits.append((m.face_action, "public-figure", "media.face"))
    elif incomplete:  # a face or a protected person may be in the frames left unchecked: a person looks
        hits.append(("review", "public-figure", "media.face_check_incomplete"))
    return hits, scores


def _match_hit(analyzer, frames, matches: list, scores: dict[str, float]) -> tuple[str, str, str]:
    """A protected-person match blocks once its face is confirmed (CNN faces are; a HOG face needs the CNN
    to find a face on a crop around it, ~80 ms): HOG's weak false hits carry embeddings that can land
    near a reference. The nearest matches are tried first, at most ``MAX_CONFIRMATIONS``; none confirmed:
    held for review, so a person still looks."""
    from veriframe.safety.media.faces import MAX_CONFIRMATIONS

    for dist, i, n, face in matches[:MAX_CONFIRMATIONS]:
        if analyzer.confirmed(frames[n], face):
            scores["match_distance"] = round(dist, 4)
            return "block", "deception/real-person", f"media.protected_faces[{i}]"
    return "review", "deception/real-person", f"media.protected_faces_unconfirmed[{matches[0][1]}]"


def _media_message(decision: DecisionKind, categories: list[str], kind: str) -> str:
    if decision == "allow":
        return "Media accepted." if kind == "input" else "Generated video passed the image checks."
    what = "The input image or video" if kind == "input" else "The generated video"
    return what + user_message(decision, categories).removeprefix("This prompt").replace("prompt", "content")


@functools.cache
def default_screener() -> MediaScreener:
    """One screener per process (the models load on first use)."""
    return MediaScreener()


def sample_array(frames: np.ndarray, fps: float, m: MediaPolicy) -> list[np.ndarray]:
    """Generated frames (F x H x W x 3, uint8 or floats in [0, 1]) sampled like a video: ``m.sample_fps``
    a second plus the first and the last, at most ``m.max_frames``."""
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise ValueError(f"expected frames shaped (F, H, W, 3), got {frames.shape}")
    n = frames.shape[0]
    step = max(1, round(max(fps, 1e-6) / m.sample_fps))
    idx = sorted({*range(0, n, step), n - 1})
    return [as_rgb8(frames[i]) for i in spread(idx, m.max_frames)]


def screen_input(
    kind: Literal["image", "video"], data: bytes, policy: Policy, screener: MediaScreener | None = None
) -> MediaDecision:
    """Decode an image-to-video / video-to-video input (bounded by the policy) and screen it.

    Raises ``MediaError`` for unreadable media and :class:`MediaCheckError` when a check cannot run.
    """
    from veriframe.safety.media.frames import load_image, sample_video

    m = policy.media_policy
    frames = (
        [load_image(data)]
        if kind == "image"
        else sample_video(data, fps=m.sample_fps, max_frames=m.max_frames)
    )
    return (screener or default_screener()).screen(frames, policy, kind="input")


def screen_output(
    frames: np.ndarray, fps: float, policy: Policy, screener: MediaScreener | None = None
) -> MediaDecision:
    """Screen generated frames before release (nudity and protected persons)."""
    return (screener or default_screener()).screen(
        sample_array(frames, fps, policy.media_policy), policy, kind="output"
    )
