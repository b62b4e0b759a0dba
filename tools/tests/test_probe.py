"""The speaker probe's classifier (tmrvc.evaluation.probe) on synthetic features."""
import numpy as np

from tmrvc.evaluation.probe import probe_accuracy, utterance_stats


def _clips(rng, n, offset):
    return [utterance_stats(rng.normal(offset, 1.0, size=(16, 50))) for _ in range(n)]


def test_probe_separates_speakers_that_differ_and_not_those_that_do_not():
    rng = np.random.default_rng(0)
    # Two voices whose features differ in mean: the probe finds them.
    tr = _clips(rng, 20, 0.0) + _clips(rng, 20, 0.5)
    te = _clips(rng, 20, 0.0) + _clips(rng, 20, 0.5)
    y = ["a"] * 20 + ["b"] * 20
    assert probe_accuracy(np.stack(tr), y, np.stack(te), y) > 0.95
    # Four voices from the same distribution: near chance (0.25).
    tr = _clips(rng, 80, 0.0)
    te = _clips(rng, 80, 0.0)
    y = [s for s in "abcd" for _ in range(20)]
    assert probe_accuracy(np.stack(tr), y, np.stack(te), y) < 0.45


def test_utterance_stats_are_mean_and_std_per_dimension():
    f = np.array([[1.0, 3.0], [2.0, 2.0]])
    np.testing.assert_allclose(utterance_stats(f), [2.0, 2.0, 1.0, 0.0])


def test_speech_frames_come_from_the_louder_half_without_repeats():
    from tmrvc.evaluation.probe import speech_frames

    mel = np.zeros((80, 100), np.float32)
    mel[:, 40:90] = 3.0                    # 50 loud frames
    idx = speech_frames(mel, 20, np.random.default_rng(0))
    assert len(idx) == 20 and len(set(idx.tolist())) == 20
    assert all(40 <= i < 90 for i in idx)
    assert len(speech_frames(mel[:, :6], 20, np.random.default_rng(0))) <= 6
