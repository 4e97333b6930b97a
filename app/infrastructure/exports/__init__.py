"""Exports of a finished book (`BookRenderer`): a PDF with fpdf2, an EPUB 3 with EbookLib."""
