"""Read a user's text file (manifest, split list) whatever encoding a spreadsheet chose.

Torch-free. Accepted: UTF-8 with or without a byte-order mark, UTF-16 / UTF-32 with a
byte-order mark, and Latin-1 as the fallback for files that are not UTF-8 (every
byte is a Latin-1 character, so such a file always decodes; Windows spreadsheets
save CSV files that way). Bytes that no text holds (NUL and other control
characters) are a :class:`~torchmusic.errors.DataError` naming the file.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from torchmusic.errors import DataError

#: Byte-order marks and the encodings they announce (UTF-32 before UTF-16: its LE
#: mark starts with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_text(path: Path, *, what: str = "manifest") -> str:
    """The text of ``path``: UTF-8 (with or without a byte-order mark), UTF-16 or
    UTF-32 with a byte-order mark, else Latin-1 (what spreadsheets on Windows often
    save: every byte is a character, so it always decodes) unless the bytes hold NUL
    or other control characters, which text never does.

    Raises
    ------
    DataError
        Unreadable file, or bytes that are no text (the message names the file, the
        first bad byte and the encodings accepted).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{what} {str(path)!r} starts with a {encoding.upper()} byte-order mark but "
                    f"byte {exc.start} is not {encoding.upper()}; expected a text file"
                ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        controls = [i for i, b in enumerate(data) if b < 32 and b not in (9, 10, 13)]
        if controls:
            raise DataError(
                f"{what} {str(path)!r} is not text: byte {controls[0]} is 0x{data[controls[0]]:02x} "
                f"(and byte {exc.start} is not UTF-8); expected a UTF-8, UTF-16 (with a "
                "byte-order mark) or Latin-1 text file"
            ) from None
        return data.decode("latin-1")
