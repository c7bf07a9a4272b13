"""Recall documents: the notice to each consignee (PDF) and the regulator reports (PDF, XLSX).

    notice_pdf(notice) -> bytes
    report_pdf(campaign, kind, lang=None) -> bytes
    report_xlsx(campaign, kind, lang=None) -> bytes

``kind`` is one of ``KINDS``: cn_report, cn_plan, cn_summary, fda_806, eu_fsn.
"""

from __future__ import annotations

from .notice import notice_pdf
from .render import report_pdf, report_xlsx
from .reports import KINDS, report_content

__all__ = ["KINDS", "notice_pdf", "report_content", "report_pdf", "report_xlsx"]
