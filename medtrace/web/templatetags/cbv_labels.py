"""``{% load cbv_labels %}``: CBV terms in words, e.g. ``{{ unit.disposition|disposition_label }}``
shows 在途 / In transit for ``in_transit`` (see ``medtrace.web.vocab``)."""

from __future__ import annotations

from django import template

from medtrace.web import vocab

register = template.Library()

register.filter("biz_step_label", vocab.biz_step_label)
register.filter("disposition_label", vocab.disposition_label)
register.filter("phase_label", vocab.phase_label)
register.filter("document_type_label", vocab.document_type_label)
