"""Report cards drawn as PDF with ReportLab (R32): the single card's PDF, the batch's parts
and the one-request download all come from here, so a card prints the same everywhere.

Why not WeasyPrint (which still prints the other reports): it lays out every box of the HTML
card in Python, ~120-140 ms of CPU per card with the card's template and ~60-80 ms with the
cheapest CSS that keeps its tables; 1,500 cards in 30 s on 2 cores need well under 40 ms.
Drawn here a card costs ~5-7 ms.

The card has the fields and layout of ``templates/grading/reports/_card.html`` (the page):
school, address and title; the student, state ID, grade level and term; the grades table
(course, section, teachers, the KTS course's tech school, each task's score and percent);
term GPA and honor roll; the grading scales; the signature lines. A card starts on a new
page; a long one goes on over the next with the grades table's header repeated. Each card is
a PDF bookmark named after the student, so a batch can be browsed by student.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import floatformat
from django.utils.html import escape

DASH = "\u2014"
INK = "#1d2733"
MUTED = "#3d4b59"
GREY = "#5b6b7b"
LINE = "#d6dde4"
HEAD = "#eeeeee"

FONT = "KTSSans"
FONT_BOLD = "KTSSans-Bold"
# DejaVu Sans (the HTML card's sans-serif here) covers Latin, Greek and Cyrillic names;
# ReportLab's own Vera is the fallback where it is missing.
_FONT_FILES = {
    FONT: ("DejaVu Sans:style=Book", "DejaVuSans.ttf", "Vera.ttf"),
    FONT_BOLD: ("DejaVu Sans:style=Bold", "DejaVuSans-Bold.ttf", "VeraBd.ttf"),
}
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")

TEXT = 10.0  # the page's 0.9rem tables, 10pt body
SMALL = 9.0  # the grading scales' 0.8rem
PAD_X, PAD_Y = 5.0, 3.0


def _font_file(pattern: str, name: str, fallback: str) -> str:
    """The TTF file of ``pattern``: the usual folders, then fontconfig, then Vera."""
    for folder in _FONT_DIRS:
        path = Path(folder) / name
        if path.is_file():
            return str(path)
    fc_match = shutil.which("fc-match")
    if fc_match:
        found = subprocess.run(
            [fc_match, "-f", "%{file}", pattern], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found.lower().endswith(".ttf") and Path(found).is_file():
            return found
    import reportlab

    return str(Path(reportlab.__file__).parent / "fonts" / fallback)


@functools.cache
def _setup() -> None:
    """Once per process (a worker keeps it from one part to the next): the fonts, and
    page streams compressed with zlib but not also ASCII85-encoded (a quarter bigger and,
    without ReportLab's C accelerator, the costliest step after the drawing)."""
    from reportlab import rl_config
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for font, (pattern, name, fallback) in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(font, _font_file(pattern, name, fallback)))
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(FONT, bold, italic, FONT_BOLD if bold else FONT)
    rl_config.useA85 = 0


@functools.cache
def _bookmark_class() -> type:
    """The flowable that marks where a card starts (built once: ReportLab loads lazily)."""
    from reportlab.platypus import Flowable

    class Bookmark(Flowable):  # type: ignore[misc]
        """Zero-size: the card's outline entry, on the page where the card starts."""

        def __init__(self, key: str, title: str) -> None:
            super().__init__()
            self.key, self.title = key, title
            self.width = self.height = 0

        def wrap(self, *args: float) -> tuple[float, float]:
            return (0, 0)

        def draw(self) -> None:
            self.canv.bookmarkPage(self.key)
            self.canv.addOutlineEntry(self.title, self.key, level=0)

    return Bookmark


def student_name(card: dict[str, Any]) -> str:
    """The name a card prints and is bookmarked under: "Last, First"."""
    return f"{card['student'].last_name}, {card['student'].first_name}"


def _term_text(term: Any) -> str:
    calendar = term.calendar
    return (
        f"{term.name}, {calendar.school_year - 1}-{calendar.school_year} "
        f"({date_filter(term.start_date, 'M j, Y')} \u2013 {date_filter(term.end_date, 'M j, Y')})"
    )


def _honor_roll_text(card: dict[str, Any]) -> str:
    if card["incomplete"]:
        return "Incomplete (a counted course has no grade yet)"
    return str(card["honor_roll"] or DASH)


def _gpa_text(card: dict[str, Any]) -> str:
    return DASH if card["gpa"] is None else str(floatformat(card["gpa"], 2))


class _Cards:
    """The flowables of cards on a frame ``width`` wide (styles built once a document)."""

    def __init__(self, width: float) -> None:
        from reportlab.lib import colors
        from reportlab.lib.enums import TA_CENTER
        from reportlab.lib.styles import ParagraphStyle

        self.width = width
        self.ink = colors.HexColor(INK)
        self.grey = colors.HexColor(GREY)
        self.head_bg = colors.HexColor(HEAD)
        self.line = colors.HexColor(LINE)
        self.white = colors.white
        self.muted = colors.HexColor(MUTED)
        base = ParagraphStyle("card", fontName=FONT, fontSize=TEXT, leading=13, textColor=INK)
        center = {"parent": base, "alignment": TA_CENTER}
        self.st_school = ParagraphStyle(
            "school", **center, fontName=FONT_BOLD, fontSize=14, leading=17
        )
        self.st_address = ParagraphStyle(
            "address", **center, fontSize=SMALL + 0.5, leading=12, textColor=MUTED
        )
        self.st_title = ParagraphStyle(
            "title", **center, fontName=FONT_BOLD, fontSize=16, leading=20, spaceBefore=3
        )
        self.st_heading = ParagraphStyle(
            "heading", parent=base, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=10
        )
        self.st_summary = ParagraphStyle("summary", parent=base, leading=16, spaceBefore=8)
        self.grid: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("FONTSIZE", (0, 0), (-1, -1), TEXT),
            ("LEADING", (0, 0), (-1, -1), TEXT * 1.3),
            ("TEXTCOLOR", (0, 0), (-1, -1), self.ink),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("GRID", (0, 0), (-1, -1), 0.75, self.line),
            ("TOPPADDING", (0, 0), (-1, -1), PAD_Y),
            ("BOTTOMPADDING", (0, 0), (-1, -1), PAD_Y + 1),
            ("LEFTPADDING", (0, 0), (-1, -1), PAD_X),
            ("RIGHTPADDING", (0, 0), (-1, -1), PAD_X),
        ]

    @staticmethod
    def _wrap(text: str, width: float, size: float = TEXT, font: str = FONT) -> str:
        """Plain text broken into the lines of a cell ``width`` wide (a cell of plain text
        draws its lines; far cheaper than a Paragraph in every cell)."""
        from reportlab.lib.utils import simpleSplit

        lines: list[str] = []
        for part in text.split("\n"):
            lines.extend(simpleSplit(part, font, size, width - 2 * PAD_X) or [""])
        return "\n".join(lines)

    def head(self, card: dict[str, Any]) -> list[Any]:
        from reportlab.platypus import Paragraph

        school = card["school"]
        out: list[Any] = [Paragraph(escape(school.name), self.st_school)]
        if school.address:
            lines = escape(school.address).replace("\r\n", "\n").replace("\n", "<br/>")
            out.append(Paragraph(lines, self.st_address))
        out.append(Paragraph("Report Card", self.st_title))
        return out

    def who(self, card: dict[str, Any]) -> Any:
        from reportlab.platypus import Table

        cols = [f * self.width for f in (0.14, 0.32, 0.14, 0.40)]
        data = [
            [
                "Student",
                self._wrap(student_name(card), cols[1]),
                "State ID",
                self._wrap(str(card["student"].state_id), cols[3]),
            ],
            [
                "Grade level",
                self._wrap(str(card["grade_level"] or DASH), cols[1]),
                "Term",
                self._wrap(_term_text(card["term"]), cols[3]),
            ],
        ]
        style = [
            *self.grid,
            *(("BACKGROUND", (c, 0), (c, -1), self.head_bg) for c in (0, 2)),
            *(("FONTNAME", (c, 0), (c, -1), FONT_BOLD) for c in (0, 2)),
        ]
        return Table(data, colWidths=cols, style=style, hAlign="LEFT", spaceBefore=8)

    def grades(self, card: dict[str, Any]) -> Any:
        from reportlab.platypus import Table

        cols = [f * self.width for f in (0.28, 0.11, 0.19, 0.21, 0.09, 0.12)]
        data: list[list[str]] = [
            ["Course", "Section", "Teacher", "Grading task", "Score", "Percent"]
        ]
        style: list[tuple[Any, ...]] = [
            *self.grid,
            ("BACKGROUND", (0, 0), (-1, 0), self.head_bg),
            ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
            ("ALIGN", (5, 0), (5, -1), "RIGHT"),
        ]
        for s in card["sections"]:
            course = f"{s['course_number']} {s['course_name']}"
            if s["tech_school"]:
                course += f"\nKTS course at {s['tech_school']}"
            first = [
                self._wrap(course, cols[0]),
                self._wrap(s["section_name"], cols[1]),
                self._wrap(", ".join(s["teacher_names"]) or DASH, cols[2]),
            ]
            row = len(data)
            if not s["grades"]:
                data.append([*first, "No grade posted", "", ""])
                style += [
                    ("SPAN", (3, row), (5, row)),
                    ("TEXTCOLOR", (3, row), (5, row), self.grey),
                ]
                continue
            for i, g in enumerate(s["grades"]):
                data.append(
                    [
                        *(first if i == 0 else ["", "", ""]),
                        self._wrap(g["grading_task_name"], cols[3]),
                        self._wrap(str(g["score"]), cols[4]),
                        "" if g["percent"] is None else str(g["percent"]),
                    ]
                )
            if len(s["grades"]) > 1:
                style += [("SPAN", (c, row), (c, len(data) - 1)) for c in range(3)]
        if not card["sections"]:
            data.append(["No sections this term.", "", "", "", "", ""])
            style += [("SPAN", (0, 1), (5, 1)), ("TEXTCOLOR", (0, 1), (5, 1), self.grey)]
        return Table(data, colWidths=cols, style=style, repeatRows=1, hAlign="LEFT", spaceBefore=10)

    def summary(self, card: dict[str, Any]) -> Any:
        from reportlab.platypus import Paragraph

        def strong(text: str) -> str:
            return f'<font name="{FONT_BOLD}" size="13">{escape(text)}</font>'

        gap = "&nbsp;" * 10
        return Paragraph(
            f"Term GPA: {strong(_gpa_text(card))}{gap}Honor roll: {strong(_honor_roll_text(card))}",
            self.st_summary,
        )

    def scales(self, card: dict[str, Any]) -> list[Any]:
        from reportlab.platypus import Paragraph, Table

        if not card["scales"]:
            return []
        cols = [60.0, 50.0, 42.0, 52.0]
        gap = 12.0
        tables = []
        for scale in card["scales"]:
            data = [[self._wrap(scale["name"], sum(cols), SMALL, FONT_BOLD), "", "", ""]]
            data.append(["Score", "From %", "GPA", "Passing"])
            data += [
                [
                    self._wrap(str(r.score), cols[0], SMALL),
                    str(floatformat(r.min_percent, 0)),
                    str(floatformat(r.gpa_value, 2)),
                    "yes" if r.passing else "no",
                ]
                for r in scale["rows"]
            ]
            style = [
                *self.grid,
                ("FONTSIZE", (0, 0), (-1, -1), SMALL),
                ("LEADING", (0, 0), (-1, -1), SMALL * 1.3),
                ("GRID", (0, 1), (-1, -1), 0.75, self.line),
                ("GRID", (0, 0), (-1, 0), 0, self.white),  # the caption: no box
                ("SPAN", (0, 0), (-1, 0)),
                ("LEFTPADDING", (0, 0), (-1, 0), 0),
                ("FONTNAME", (0, 0), (-1, 1), FONT_BOLD),
                ("BACKGROUND", (0, 1), (-1, 1), self.head_bg),
                ("ALIGN", (1, 1), (2, -1), "RIGHT"),
            ]
            tables.append(Table(data, colWidths=cols, style=style, hAlign="LEFT"))
        # Side by side, as many to a row as fit (the page's wrapping flex row).
        per_row = max(1, int((self.width + gap) // (sum(cols) + gap)))
        out: list[Any] = [Paragraph("Grading scale", self.st_heading)]
        for i in range(0, len(tables), per_row):
            row = tables[i : i + per_row]
            out.append(
                Table(
                    [row],
                    colWidths=[sum(cols) + gap] * len(row),
                    style=[
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("LEFTPADDING", (0, 0), (-1, -1), 0),
                        ("RIGHTPADDING", (0, 0), (-1, -1), gap),
                        ("TOPPADDING", (0, 0), (-1, -1), 2),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), gap / 2),
                    ],
                    hAlign="LEFT",
                )
            )
        return out

    def signature(self) -> Any:
        from reportlab.platypus import Table

        gap = 36.0
        half = (self.width - gap) / 2
        return Table(
            [["", "", ""], ["Principal's signature", "", "Date"]],
            colWidths=[half, gap, half],
            rowHeights=[22, None],
            style=[
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), SMALL + 0.5),
                ("TEXTCOLOR", (0, 0), (-1, -1), self.muted),
                ("LINEBELOW", (0, 0), (0, 0), 0.75, self.ink),
                ("LINEBELOW", (2, 0), (2, 0), 0.75, self.ink),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 1), (-1, 1), 2),
            ],
            hAlign="LEFT",
            spaceBefore=30,
        )

    def card(self, card: dict[str, Any], key: str) -> list[Any]:
        return [
            _bookmark_class()(key, student_name(card)),
            *self.head(card),
            self.who(card),
            self.grades(card),
            self.summary(card),
            *self.scales(card),
            self.signature(),
        ]


def report_cards_pdf(
    *, cards: Sequence[dict[str, Any]], school: Any, term: Any, title: str = ""
) -> bytes:
    """R32: the PDF of ``cards`` (``report_cards`` dicts of ``school``'s ``term``), in the
    given order, each starting on a new page; with no card, one page saying so."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.units import cm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    _setup()
    out = io.BytesIO()
    margin = 1.5 * cm  # the page's @page margin
    doc = SimpleDocTemplate(
        out,
        pagesize=letter,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=title or f"Report cards \u00b7 {school.name} \u00b7 {term.name}",
        author=str(school.name),
        creator="KTS Data Exchange",
        invariant=1,  # the same cards give the same bytes
        pageCompression=1,
    )
    parts = _Cards(doc.width)
    story: list[Any] = []
    for i, card in enumerate(cards):
        if i:
            story.append(PageBreak())
        story.extend(parts.card(card, f"card-{i}"))
    if not story:
        text = f"No students have a roster or grade in {escape(term.name)}."
        story.append(Paragraph(text, parts.st_summary))
    doc.build(story)
    return out.getvalue()
