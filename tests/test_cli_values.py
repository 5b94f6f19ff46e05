"""Every value typed into a `vqdsp` option is checked as it is parsed: a bad one is exit status 2 and one line on
stderr that names the option as typed, the value and the range, never a traceback, and no work is started
(T3, T4, T6, T7 and the CLI part of the fuzz sweep)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqdsp.cli import main

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
POSITIONAL = {"denoise": ["in.wav"], "master": ["in/", "-o", "out/"], "eval": ["clean/"], "train": ["speech/"],
              "train-high-band": ["speech/"]}


def _refused(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """The one stderr line of ``vqdsp argv``, which must exit with status 2 before doing any work."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert err.startswith(f"vqdsp {argv[0]}: error: "), err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "d", "--steps", "0"], "argument --steps: must be a whole number >= 1, got '0'"),  # T4
        (["train", "d", "--steps", "-5"], "argument --steps: must be a whole number >= 1, got '-5'"),
        (["train-high-band", "d", "--steps", "0"], "argument --steps: must be a whole number >= 1"),
        (["train", "d", "--channels", "0"], "argument --channels: must be a whole number in [1, 4096], got '0'"),  # T6
        (["train", "d", "--channels", "8"], "argument --channels: needs 2 to 8 values (one per U-Net level), got 1"),
        (["train", "d", "--channels", "-8", "16"], "argument --channels: must be a whole number in [1, 4096], got '-8'"),
        (["train", "d", "--codebook-size", "0"], "argument --codebook-size: must be a whole number in [1, 65536], got '0'"),
        (["train", "d", "--threads", "-1"], "argument --threads: must be a whole number in [0, 4096], got '-1'"),
        (["train", "d", "--eval-every", "0"], "argument --eval-every: must be a whole number >= 1, got '0'"),
        (["train", "d", "--snr-db", "nan", "nan"], "argument --snr-db: must be a finite number in [-100, 100], got 'nan'"),
        (["train-high-band", "d", "--kernel", "4"], "argument --kernel: must be odd (frames centred on each frame), got 4"),
        (["train", "d", "--batch-size", "0"], "argument --batch-size: must be a whole number >= 1, got '0'"),  # T7
        (["train", "d", "--batch-size", "-1"], "argument --batch-size: must be a whole number >= 1, got '-1'"),
        (["train", "d", "--val-segments", "0"], "argument --val-segments: must be a whole number >= 1, got '0'"),
        (["train", "d", "--snr-db", "20", "-5"], "argument --snr-db: LOW must be <= HIGH, got 20 -5"),
        (["train-high-band", "d", "--segments", "0"], "argument --segments: must be a whole number >= 1, got '0'"),
        (["train", "d", "--nperseg", "20"], "argument --nperseg: nperseg must be an integer above the hop"),
        (["train-high-band", "d", "--top-hz", "9000"], "argument --sample-rate: must be at least twice --top-hz (18000 Hz)"),
        (["eval", "c", "--snr-db", "nan"], "argument --snr-db: must be a finite number in [-100, 100], got 'nan'"),  # T3
        (["eval", "c", "--snr-db", "1e9"], "argument --snr-db: must be a finite number in [-100, 100], got '1e9'"),
        (["eval", "c", "--seed", "-1"], "argument --seed: must be a whole number in [0, 4294967295], got '-1'"),
        (["eval", "c", "--sample-rate", "0"], "argument --sample-rate: must be a whole number in [1000, 384000], got '0'"),  # T2
        (["eval", "c", "--sample-rate", "-8000"], "argument --sample-rate: must be a whole number in [1000, 384000]"),
        (["denoise", "x", "--attenuation-limit-db", "1e300"], "argument --attenuation-limit-db: must be a finite number in (0, 200] or inf"),
        (["denoise", "x", "--mix", "nan"], "argument --mix: must be a finite number in [0, 1], got 'nan'"),
        (["denoise", "x", "--high-band", ""], "argument --high-band: must be default, none or a .safetensors file, got ''"),
        (["denoise", "x", "--device", "gpu"], "argument --device: must be cpu or cuda[:N], got 'gpu'"),
        (["master", "i", "-o", "o", "--jobs", "0"], "argument -j/--jobs: must be a whole number >= 1, got '0'"),
        (["master", "i", "-o", "o", "--subtype", "PCM_17"], "argument --subtype: must be a sample format such as PCM_16"),
        (["train", "d", "--noise", "thunder"], "argument --noise: invalid choice: 'thunder'"),
        (["eval", "c", "--noise", "thunder"], "argument --noise: invalid choice: 'thunder'"),
        (["export-onnx", "o.onnx", "-m", ""], "argument -m/--model: must be a shipped model's name or a .safetensors file"),
    ],
)
def test_a_bad_value_names_the_option_the_value_and_the_range(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert message in _refused(argv, capsys)


# (command, flag, values it takes, how many values) -> bad values drawn below
WHOLE = {("denoise", "--threads"): (1, None), ("master", "--jobs"): (1, None), ("master", "--threads"): (1, None),
         ("eval", "--seed"): (0, 2**32 - 1), ("eval", "--limit"): (1, None), ("eval", "--examples"): (0, None),
         ("eval", "--sample-rate"): (1000, 384000), ("train", "--steps"): (1, None), ("train", "--batch-size"): (1, None),
         ("train", "--eval-every"): (1, None), ("train", "--val-segments"): (1, None), ("train", "--val-utterances"): (0, None),
         ("train", "--codebook-size"): (1, 65536), ("train", "--seed"): (0, 2**32 - 1), ("train", "--threads"): (0, 4096),
         ("train-high-band", "--steps"): (1, None), ("train-high-band", "--segments"): (1, None),
         ("train-high-band", "--val-segments"): (1, None), ("train-high-band", "--batch-size"): (1, None),
         ("train-high-band", "--channels"): (1, 4096), ("train-high-band", "--layers"): (1, 64), ("train-high-band", "--bands"): (1, 256),
         ("train-high-band", "--sample-rate"): (16000, 384000), ("train-high-band", "--threads"): (0, 4096)}
REAL = {("denoise", "--mix"): (0.0, 1.0, False), ("eval", "--max-delay-ms"): (0.0, 10000.0, False),
        ("train", "--second-noise"): (0.0, 1.0, False), ("train", "--si-sdr-weight"): (0.0, 1e6, False),
        ("train", "--max-minutes"): (0.0, math.inf, False), ("train", "--lr"): (0.0, 10.0, True),
        ("train-high-band", "--lr"): (0.0, 10.0, True), ("train-high-band", "--top-hz"): (0.0, 192000.0, True),
        ("denoise", "--attenuation-limit-db"): (0.0, 200.0, True), ("eval", "--snr-db"): (-100.0, 100.0, False)}
PAIRS = {("train", "--snr-db"), ("train-high-band", "--snr-db")}


def _bad_whole(bounds: tuple[int, int | None]) -> st.SearchStrategy[str]:
    low, high = bounds
    out = st.integers(max_value=low - 1) | (st.integers(min_value=high + 1) if high is not None else st.nothing())
    return out.map(str) | st.sampled_from(["1.5", "two", "", "nan", "1e3", "0x10"])


def _bad_real(bounds: tuple[float, float, bool]) -> st.SearchStrategy[str]:
    low, high, low_open = bounds
    below = st.floats(max_value=low, exclude_max=not low_open)
    above = st.floats(min_value=high, exclude_min=True) if high < math.inf else st.just(math.inf)
    unlimited = high == 200.0  # --attenuation-limit-db takes inf: no limit
    return (below | above).filter(lambda v: not (unlimited and v == math.inf)).map(repr) | st.sampled_from(["nan", "loud", ""])


CASES = st.one_of(
    st.sampled_from(sorted(WHOLE)).flatmap(lambda key: _bad_whole(WHOLE[key]).map(lambda v: (*key, [v]))),
    st.sampled_from(sorted(REAL)).flatmap(lambda key: _bad_real(REAL[key]).map(lambda v: (*key, [v]))),
    st.sampled_from(sorted(PAIRS)).flatmap(lambda key: st.tuples(st.floats(-100, 100), st.floats(-100, 100)).filter(lambda p: p[0] > p[1])
                                           .map(lambda p: (*key, [repr(p[0]), repr(p[1])]))),
)


@FUZZ
@given(case=CASES)
def test_fuzz_every_bad_option_value_is_one_line_and_exit_2(case: tuple[str, str, list[str]], capsys: pytest.CaptureFixture) -> None:
    command, flag, values = case
    argv = [command, *POSITIONAL[command], f"{flag}={values[0]}" if len(values) == 1 else flag, *([] if len(values) == 1 else values)]
    err = _refused(argv, capsys)
    assert flag in err  # the option as typed
