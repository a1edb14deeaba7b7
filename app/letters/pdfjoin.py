"""One PDF from several, written as a stream: memory stays small however many pages there are.

ReportLab keeps every page of a document in memory until it saves, and then builds the whole file in
memory too (for 33,000 letters that was 450 MB). So the letters are drawn in parts of a few thousand
pages, each saved to its own small PDF, and `PdfJoiner` copies each part's objects (pages, their
content streams, fonts, the shared letter form) into the one output file, one object at a time, with new
object numbers. Only the page numbers and the file offsets of the objects are kept until the end, where
the page tree, the catalog, the cross-reference table and the trailer are written.

pypdf reads the parts (objects are taken as they are: streams are not decoded or compressed again).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    PdfObject,
    TextStringObject,
)

CATALOG, PAGE_TREE = 1, 2
_HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"


class PdfJoiner:
    """Appends the pages of PDF parts to `out` (a binary file positioned at 0); `close()` finishes it."""

    def __init__(self, out: IO[bytes], *, title: str = "", author: str = "") -> None:
        self.out = out
        self.title = title
        self.author = author
        self.offsets: list[int] = [0, 0, 0]  # object 0 is the free head; 1 and 2 are written last
        self.pages: list[int] = []
        self._position = 0
        self._write(_HEADER)

    @property
    def page_count(self) -> int:
        return len(self.pages)

    def add(self, part: Path) -> None:
        """Copy every page of the PDF `part` (made by ReportLab, not encrypted) after those added so far."""
        reader = PdfReader(part)
        skip = _structure_objects(reader)
        size = int(reader.trailer["/Size"])  # type: ignore[call-overload]
        numbers: dict[int, int] = {}
        for old in range(1, size):
            if old not in skip:
                numbers[old] = len(self.offsets)
                self.offsets.append(0)
        for old, new in numbers.items():
            obj = reader.get_object(old)
            if obj is None:
                raise ValueError(f"{part.name}: object {old} is missing")
            obj = _renumber(obj, numbers, part)
            if isinstance(obj, DictionaryObject) and obj.get("/Type") == "/Page":
                obj[NameObject("/Parent")] = IndirectObject(PAGE_TREE, 0, reader)
                self.pages.append(new)
            self._object(new, obj)

    def close(self) -> None:
        """Write the page tree, catalog, information, cross-reference table and trailer."""
        kids = " ".join(f"{number} 0 R" for number in self.pages)
        self._raw(PAGE_TREE, f"<< /Type /Pages /Count {len(self.pages)} /Kids [ {kids} ] >>".encode())
        self._raw(CATALOG, f"<< /Type /Catalog /Pages {PAGE_TREE} 0 R >>".encode())
        info_number = len(self.offsets)
        self.offsets.append(0)
        info = DictionaryObject(
            {
                NameObject("/Title"): TextStringObject(self.title),
                NameObject("/Author"): TextStringObject(self.author),
                NameObject("/Creator"): TextStringObject("Buurtkas"),
                NameObject("/Producer"): TextStringObject("ReportLab, pypdf"),
                NameObject("/CreationDate"): TextStringObject(f"D:{datetime.now(UTC):%Y%m%d%H%M%S}Z"),
            }
        )
        self._object(info_number, info)
        xref_at = self._position
        lines = [f"xref\n0 {len(self.offsets)}\n", "0000000000 65535 f \n"]
        lines += [f"{offset:010d} 00000 n \n" for offset in self.offsets[1:]]
        self._write("".join(lines).encode())
        file_id = hashlib.md5(f"{self.title}{xref_at}{len(self.pages)}".encode(), usedforsecurity=False)
        digest = file_id.hexdigest()
        self._write(
            f"trailer\n<< /Size {len(self.offsets)} /Root {CATALOG} 0 R /Info {info_number} 0 R "
            f"/ID [<{digest}> <{digest}>] >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
        )

    def _object(self, number: int, obj: PdfObject) -> None:
        self.offsets[number] = self._position
        self._write(f"{number} 0 obj\n".encode())
        self._position += _written(self.out, obj)
        self._write(b"\nendobj\n")

    def _raw(self, number: int, body: bytes) -> None:
        self.offsets[number] = self._position
        self._write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self._position += len(data)


def _written(out: IO[bytes], obj: PdfObject) -> int:
    start = out.tell()
    obj.write_to_stream(out)
    return out.tell() - start


def _structure_objects(reader: PdfReader) -> set[int]:
    """The part's catalog, page tree nodes and information dictionary: the joined file has its own."""
    skip = set()
    for key in ("/Root", "/Info"):
        ref = dict.get(reader.trailer, key)
        if isinstance(ref, IndirectObject):
            skip.add(ref.idnum)
    root: Any = reader.trailer["/Root"]
    stack: list[Any] = [dict.get(root, "/Pages")]
    while stack:
        ref = stack.pop()
        if not isinstance(ref, IndirectObject):
            continue
        node = ref.get_object()
        if isinstance(node, DictionaryObject) and node.get("/Type") == "/Pages":
            skip.add(ref.idnum)
            stack.extend(list.__iter__(node.get("/Kids", ArrayObject())))  # type: ignore[arg-type]
    return skip


def _renumber(obj: Any, numbers: dict[int, int], part: Path) -> Any:
    """`obj` with every reference pointing at the new object numbers (changed in place)."""
    if isinstance(obj, IndirectObject):
        if obj.idnum not in numbers:
            raise ValueError(f"{part.name}: a reference to the page tree or catalog ({obj.idnum} 0 R)")
        return IndirectObject(numbers[obj.idnum], 0, obj.pdf)
    if isinstance(obj, DictionaryObject):  # streams too
        for key, value in list(dict.items(obj)):
            if key != "/Parent":
                dict.__setitem__(obj, key, _renumber(value, numbers, part))
        return obj
    if isinstance(obj, ArrayObject):
        for index, value in enumerate(list.__iter__(obj)):
            list.__setitem__(obj, index, _renumber(value, numbers, part))
        return obj
    return obj
