"""One way to write sizes and counts: bytes in KiB/MiB/GiB (1024s), counts with k/M/G."""
import pytest

from convviz.units import count, size_bytes


@pytest.mark.parametrize("n, text", [
    (0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"), (200 * 1024, "200 KiB"),
    (1023 * 1024, "0.999 MiB"), ((1 << 20) - 1, "1 MiB"), (12 * 1024 ** 2, "12 MiB"), (3 * 1024 ** 3, "3 GiB"),
    (5000 * 1024 ** 3, "5,000 GiB"),
])
def test_size_bytes(n, text):
    assert size_bytes(n) == text


@pytest.mark.parametrize("n, text", [
    (0, "0"), (9_999, "9,999"), (10_000, "10k"), (22_466, "22.5k"), (999_499, "999k"), (999_600, "1M"), (61_100_840, "61.1M"),
    (138_357_544, "138M"), (2_500_000_000, "2.5G"),
])
def test_count(n, text):
    assert count(n) == text


def test_sizes_past_any_float_are_written_in_whole_units():
    """A crafted architecture can claim a volume no float holds: still one readable line, no OverflowError."""
    assert size_bytes(10 ** 400).endswith(" GiB") and size_bytes(10 ** 400).startswith("9,313,225,746")
    assert count(10 ** 400).endswith("G")
