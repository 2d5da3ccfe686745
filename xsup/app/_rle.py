"""Label Studio's brush RLE: decode the run-length code its brush exports hold.

Label Studio stores a brush mask as a list of bytes in the format of
thi.ng's ``rle-pack``: a bit stream (most significant bit first) holding the
number of values (32 bits), the word size minus one (5 bits) and four run
length sizes minus one (4 bits each), then runs: a flag bit (1: one value
repeated, 0: literal values), a 2-bit index into the run length sizes, the
run length minus one in that many bits, and the value(s) in word-size bits.
The values are the RGBA bytes of the mask image, row by row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["decode_rle", "rle_mask"]


class _Bits:
    """Read unsigned integers of any width from a byte string, most significant bit first."""

    def __init__(self, data: bytes) -> None:
        self.text = format(int.from_bytes(data, "big"), f"0{len(data) * 8}b") if data else ""
        self.position = 0

    def read(self, width: int) -> int:
        end = self.position + width
        if end > len(self.text):
            raise ValueError("Label Studio RLE ends in the middle of a value (truncated data).")
        value = int(self.text[self.position : end], 2)
        self.position = end
        return value


def decode_rle(rle: Sequence[int]) -> np.ndarray:
    """The flat array of values that a Label Studio brush RLE encodes.

    Parameters
    ----------
    rle : sequence of int
        The ``value["rle"]`` list of a ``brushlabels`` result (bytes 0-255).

    Returns
    -------
    numpy.ndarray
        The decoded values (RGBA bytes of the mask for a brush result).

    Raises
    ------
    ValueError
        ``rle`` is not a list of bytes, or is truncated or inconsistent.

    Examples
    --------
    >>> decode_rle([0, 0, 0, 4, 56, 136, 140, 192, 0])  # one run: four times 0
    array([0, 0, 0, 0], dtype=uint8)
    """
    try:
        data = bytes(rle)
    except (TypeError, ValueError):
        raise ValueError("a Label Studio RLE must be a list of integers from 0 to 255.") from None
    bits = _Bits(data)
    count = bits.read(32)
    word = bits.read(5) + 1
    sizes = [bits.read(4) + 1 for _ in range(4)]
    out = np.zeros(count, dtype=np.uint8 if word <= 8 else np.uint32)
    i = 0
    while i < count:
        repeated = bits.read(1)
        end = i + 1 + bits.read(sizes[bits.read(2)])
        if end > count:
            raise ValueError(f"Label Studio RLE has a run past its {count} values.")
        if repeated:
            out[i:end] = bits.read(word)
        else:
            out[i:end] = [bits.read(word) for _ in range(end - i)]
        i = end
    return out


def rle_mask(rle: Sequence[int], height: int, width: int) -> np.ndarray:
    """The painted cells (alpha at least 128) of a brush RLE of a ``height`` x ``width`` image."""
    values = decode_rle(rle)
    if values.size != height * width * 4:
        raise ValueError(f"Label Studio RLE holds {values.size} values; a {height}x{width} RGBA "
                         f"mask has {height * width * 4}.")
    return values.reshape(height, width, 4)[:, :, 3] >= 128
