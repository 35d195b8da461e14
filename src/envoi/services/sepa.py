"""SEPA files for payouts, pure functions: the credit-transfer initiation we send the
bank (pain.001.001.09, checked against ISO 20022's own XSD, shipped by ``sepaxml``) and
the payment status report it sends back (pain.002: which lines it rejected, and why).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from lxml import etree
from lxml.builder import ElementMaker

PAIN_001 = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class SepaFileError(ValueError):
    """A file that is not what it claims (not XML, not valid against its schema)."""


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    end_to_end_id: str  # ours, echoed by the bank in its status report (max 35)
    amount_minor: int
    currency: str
    creditor: Party
    remittance: str  # what the payee reads on their statement (max 140)


@dataclass(frozen=True, slots=True)
class LineStatus:
    end_to_end_id: str
    status: str  # ACCP, ACSC, ACSP, ACWC, PDNG, RJCT…
    reason: str | None  # the ISO reason code of a rejection (AC01 wrong IBAN, AC04 closed…)

    @property
    def rejected(self) -> bool:
        return self.status == "RJCT"


@cache
def _pain001_schema() -> etree.XMLSchema:
    xsd = importlib.resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    return etree.XMLSchema(etree.fromstring(xsd.read_bytes(), _SAFE))


def _text(v: str, limit: int) -> str:
    """SEPA's restricted Latin character set: letters, digits and / - ? : ( ) . , ' + space."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", v).encode("ascii", "ignore").decode()
    allowed = "".join(c if c.isalnum() or c in "/-?:().,'+ " else " " for c in plain)
    return " ".join(allowed.split())[:limit] or "-"


def _amount(minor: int) -> str:
    return str((Decimal(minor) / 100).quantize(Decimal("0.01")))


def pain001(
    *,
    message_id: str,
    created: datetime,
    execution: date,
    debtor: Party,
    transfers: Sequence[CreditTransfer],
) -> bytes:
    """One payment information block, SEPA service level, charges shared (SLEV)."""
    if not transfers:
        raise SepaFileError("a batch needs at least one transfer")
    total = _amount(sum(t.amount_minor for t in transfers))
    count = str(len(transfers))
    e = ElementMaker(namespace=PAIN_001, nsmap={None: PAIN_001})

    def agent(bic: str | None) -> etree._Element:
        element: etree._Element = e.FinInstnId(e.BICFI(bic) if bic else e.Othr(e.Id("NOTPROVIDED")))
        return element

    lines = [
        e.CdtTrfTxInf(
            e.PmtId(e.EndToEndId(t.end_to_end_id[:35])),
            e.Amt(e.InstdAmt(_amount(t.amount_minor), Ccy=t.currency)),
            *([e.CdtrAgt(agent(t.creditor.bic))] if t.creditor.bic else []),
            e.Cdtr(e.Nm(_text(t.creditor.name, 70))),
            e.CdtrAcct(e.Id(e.IBAN(t.creditor.iban))),
            e.RmtInf(e.Ustrd(_text(t.remittance, 140))),
        )
        for t in transfers
    ]
    document = e.Document(
        e.CstmrCdtTrfInitn(
            e.GrpHdr(
                e.MsgId(message_id[:35]),
                e.CreDtTm(created.replace(microsecond=0).isoformat()),
                e.NbOfTxs(count),
                e.CtrlSum(total),
                e.InitgPty(e.Nm(_text(debtor.name, 70))),
            ),
            e.PmtInf(
                e.PmtInfId(message_id[:35]),
                e.PmtMtd("TRF"),
                e.BtchBookg("true"),
                e.NbOfTxs(count),
                e.CtrlSum(total),
                e.PmtTpInf(e.SvcLvl(e.Cd("SEPA"))),
                e.ReqdExctnDt(e.Dt(execution.isoformat())),
                e.Dbtr(e.Nm(_text(debtor.name, 70))),
                e.DbtrAcct(e.Id(e.IBAN(debtor.iban))),
                e.DbtrAgt(agent(debtor.bic)),
                e.ChrgBr("SLEV"),
                *lines,
            ),
        )
    )
    data = etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    check_pain001(data)
    return data


def check_pain001(data: bytes) -> None:
    """Raise ``SepaFileError`` unless ``data`` is valid against the pain.001.001.09 XSD."""
    try:
        doc = etree.fromstring(data, _SAFE)
    except etree.XMLSyntaxError as exc:
        raise SepaFileError(str(exc)) from None
    schema = _pain001_schema()
    if not schema.validate(doc):
        raise SepaFileError(str(schema.error_log))


def pain002_statuses(data: bytes) -> tuple[str | None, str | None, list[LineStatus]]:
    """(original message id, group status, each line's status) of a pain.002 status
    report, whichever version (read by local names; the bank's own file)."""
    try:
        doc = etree.fromstring(data, _SAFE)
    except etree.XMLSyntaxError as exc:
        raise SepaFileError(str(exc)) from None

    def first(node: etree._Element, path: str) -> str | None:
        found = node.xpath(path)
        if isinstance(found, list) and found:
            item = found[0]
            text = item.text if isinstance(item, etree._Element) else str(item)
            return text.strip() if text else None
        return None

    if len(doc) == 0 or etree.QName(doc[0]).localname != "CstmrPmtStsRpt":
        raise SepaFileError("not a pain.002 customer payment status report")
    group = "./*[local-name()='CstmrPmtStsRpt']/*[local-name()='OrgnlGrpInfAndSts']"
    message_id = first(doc, group + "/*[local-name()='OrgnlMsgId']")
    group_status = first(doc, group + "/*[local-name()='GrpSts']")
    lines = []
    nodes = doc.xpath("//*[local-name()='TxInfAndSts']")
    assert isinstance(nodes, list)
    for node in nodes:
        assert isinstance(node, etree._Element)
        e2e = first(node, "./*[local-name()='OrgnlEndToEndId']")
        status = first(node, "./*[local-name()='TxSts']")
        if e2e is None or status is None:
            raise SepaFileError("a TxInfAndSts without OrgnlEndToEndId or TxSts")
        reason = first(
            node, "./*[local-name()='StsRsnInf']/*[local-name()='Rsn']/*[local-name()='Cd']"
        )
        lines.append(LineStatus(e2e, status, reason))
    return message_id, group_status, lines
