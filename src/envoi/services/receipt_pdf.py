"""Tax receipts as PDF (fpdf2): one per donation with the fields of CERFA 11580, and a
yearly summary per donor.

DejaVu Sans (Debian's ``fonts-dejavu-core``) is used where installed, for € and œ;
without it the PDF core font Helvetica is used and the few characters it cannot write
are spelt out (``EUR``, ``oe``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF

from envoi.domain.receipts import PARIS, TaxReceipt, amount_in_french_words
from envoi.money import Money

_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)
_SPELT = {"€": "EUR", "œ": "oe", "Œ": "OE", "’": "'", "\u202f": " ", "…": "...", "—": "-"}


class _Document:
    def __init__(self) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.add_page()
        font = next((f for f in _FONTS if f.exists()), None)
        self.unicode = font is not None
        if font is not None:
            self.pdf.add_font("dejavu", fname=str(font))
            self.family = "dejavu"
        else:
            self.family = "helvetica"
        self.pdf.set_font(self.family, size=10)

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        for char, spelt in _SPELT.items():
            value = value.replace(char, spelt)
        return value.encode("latin-1", "replace").decode("latin-1")

    def title(self, value: str) -> None:
        self.pdf.set_font(self.family, size=14)
        self.pdf.multi_cell(0, 8, self.text(value), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, size=10)
        self.pdf.ln(2)

    def heading(self, value: str) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(self.family, size=11)
        self.pdf.multi_cell(0, 6, self.text(value.upper()), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, size=10)

    def field(self, label: str, value: str) -> None:
        self.pdf.multi_cell(0, 5.5, self.text(f"{label} : {value}"), new_x="LMARGIN", new_y="NEXT")

    def line(self, value: str) -> None:
        self.pdf.multi_cell(0, 5.5, self.text(value), new_x="LMARGIN", new_y="NEXT")

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _date(receipt_time: object) -> str:
    from datetime import datetime

    assert isinstance(receipt_time, datetime)
    return receipt_time.astimezone(PARIS).strftime("%d/%m/%Y")


def receipt_pdf(receipt: TaxReceipt) -> bytes:
    doc = _Document()
    doc.title("Reçu au titre des dons à certains organismes d'intérêt général")
    doc.line("Articles 200, 238 bis et 978 du code général des impôts (CERFA n° 11580)")
    doc.field("Numéro d'ordre du reçu", receipt.reference)
    if receipt.cancels_id is not None:
        doc.line(f"Ce reçu annule et remplace le reçu {receipt.cancels_id}.")
    if receipt.cancelled_at is not None:
        doc.line(f"ANNULÉ le {_date(receipt.cancelled_at)} : remplacé par un reçu rectificatif.")
    doc.heading("Bénéficiaire des versements")
    doc.field("Nom ou dénomination", receipt.org_legal_name)
    doc.field("Adresse", receipt.org_address.replace("\n", ", "))
    doc.field("Numéro SIREN, SIRET ou RNA", receipt.org_registry_id)
    if receipt.org_purpose:
        doc.field("Objet", receipt.org_purpose)
    doc.heading("Donateur")
    doc.field("Nom", receipt.donor_name)
    doc.field("Adresse", receipt.donor_address.replace("\n", ", "))
    doc.heading("Don")
    doc.line(
        "Le bénéficiaire reconnaît avoir reçu au titre des dons et versements ouvrant "
        "droit à réduction d'impôt la somme de :"
    )
    doc.field("Montant en chiffres", receipt.amount.format("fr"))
    doc.field("Montant en toutes lettres", receipt.amount_in_words)
    doc.field("Date du versement ou du don", _date(receipt.donated_at))
    doc.field("Forme du don", receipt.form)
    doc.field("Nature du don", receipt.nature)
    doc.field("Mode de versement", receipt.payment_mode)
    doc.line(
        "Le bénéficiaire certifie sur l'honneur que les dons et versements qu'il reçoit "
        f"ouvrent droit à la réduction d'impôt prévue à l'article {receipt.legal_article}."
    )
    doc.field("Date d'émission", _date(receipt.issued_at))
    return doc.output()


def yearly_summary_pdf(donor_name: str, year: int, receipts: Sequence[TaxReceipt]) -> bytes:
    """Every receipt of the year still in force, and their total, for the tax return."""
    in_force = [r for r in receipts if r.cancelled_at is None and r.year == year]
    doc = _Document()
    doc.title(f"Récapitulatif annuel des dons {year}")
    doc.field("Donateur", donor_name)
    total: Money | None = None
    for r in in_force:
        doc.line(
            f"{_date(r.donated_at)}  {r.org_legal_name}  reçu n° {r.reference}  "
            f"{r.amount.format('fr')}"
        )
        total = r.amount if total is None else total + r.amount
    if total is None:
        doc.line("Aucun don ouvrant droit à un reçu fiscal cette année.")
    else:
        doc.field("Total", total.format("fr"))
        doc.field("Total en toutes lettres", amount_in_french_words(total))
    return doc.output()
