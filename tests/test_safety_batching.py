"""The micro-batcher: concurrent screenings share classifier calls and get the same decisions."""

import threading

import pytest

from veriframe.safety import PromptError, default_policy, screen
from veriframe.safety.batching import BatchedScreener, MicroBatcher
from veriframe.safety.ensemble import load_default_ensemble


def test_micro_batcher_batches_concurrent_items_and_isolates_errors():
    seen: list[int] = []

    def double(items):
        seen.append(len(items))
        return [ValueError("odd") if x == 13 else 2 * x for x in items]

    b = MicroBatcher(double, max_batch=8, window_s=0.05)
    futures = [b.submit(i) for i in range(20)]
    results = []
    for i, f in enumerate(futures):
        if i == 13:
            with pytest.raises(ValueError, match="odd"):
                f.result(5)
        else:
            results.append(f.result(5))
    b.close()
    assert results == [2 * i for i in range(20) if i != 13]
    assert max(seen) == 8 and len(seen) < 20  # batched, and never over max_batch
    with pytest.raises(RuntimeError, match="closed"):
        b.submit(1)


def test_a_failing_batch_fails_each_waiting_caller():
    b = MicroBatcher(lambda items: 1 / 0, window_s=0.0)
    with pytest.raises(ZeroDivisionError):
        b(1, timeout=5)
    b.close()


def test_batched_screening_matches_screen_from_many_threads():
    clf = load_default_ensemble()
    policy = default_policy()
    prompts = [
        "a golden retriever puppy chasing bubbles in a sunny backyard",
        "a completely naked woman posing on a bed, explicit",
        "a man slits the throat of a screaming woman and blood sprays everywhere",
        "timelapse of a city skyline from day to night",
    ] * 4 + ["\x00\x01binary"]
    bs = BatchedScreener(clf, window_s=0.05)
    results: dict[int, object] = {}

    def worker(i: int) -> None:
        try:
            results[i] = bs.screen(prompts[i], policy)
        except PromptError as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    bs.close()
    assert isinstance(results[len(prompts) - 1], PromptError)
    for i, p in enumerate(prompts[:-1]):
        expected = screen(p, policy, clf)
        assert results[i].decision == expected.decision and results[i].categories == expected.categories
        # The default encoder gives each prompt its own int8 scales: batch mates do not move its scores.
        assert all(abs(results[i].scores[k] - v) <= 1e-6 for k, v in expected.scores.items())
    assert bs.stats["prompts"] == len(prompts) and bs.stats["batches"] < len(prompts)
