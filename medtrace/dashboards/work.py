"""The "My work" page's queues (issue 8 item 5): what waits for the signed-in person, by role.

Every member of staff sees the live alerts addressed to them or their roles (``alerts``); each
role adds its own queues (``work_sections.SECTIONS``): QA/RA the open nonconformances, holds to
lift, complaints to assess, adverse-event reports due, recalls to classify or approve and
overdue recall notices; QC the units awaiting final inspection or release and the supplier lots
awaiting incoming inspection; the warehouse what is to be put away, the open and the picked pick
lists, open stock counts and returns on their way; production the released and running work
orders; service the maintenance due and the open tickets; sales the orders to ship and the
shipments in transit; procurement the open purchase orders and expiring supplier certificates.
The administrator and the auditor (read-only) see every queue.

Each queue is a count and its first few items (oldest or most urgent first), each linking to the
page where the work is done: two small queries per queue, whatever the data's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.accounts.roles import Role
from medtrace.errors import PermissionDenied

TOP = 5


@dataclass
class Item:
    text: str
    url: str
    ref: str = ""
    when: datetime | None = None  # when it started waiting
    due: datetime | None = None  # a deadline to count down to
    note: str = ""
    bad: bool = False  # overdue, failed, expired


@dataclass
class Section:
    key: str
    title: str
    count: int
    items: list[Item]
    more_url: str = ""
    help: str = ""


@dataclass
class Work:
    roles: list[str]
    sections: list[Section]
    everything: bool  # the administrator or the auditor: every queue
    read_only: bool
    now: datetime = field(default_factory=timezone.now)


Memo = dict[str, Any]  # what one page's queues share (a scan two queues read)
Builder = Callable[[User, datetime, Memo], Section]


def roles_of(user: User) -> list[str]:
    roles = list(user.groups.values_list("name", flat=True))
    if user.is_superuser and Role.ADMIN not in roles:
        roles.append(Role.ADMIN)
    return sorted(roles)


def my_work(*, user: User, now: datetime | None = None) -> Work:
    """The queues of ``user``'s roles. Partners have no work page (their portal is theirs)."""
    from .work_sections import SECTIONS, alerts_section

    if user.party_id is not None:
        raise PermissionDenied(
            "The work queues are for our own staff; partner accounts use their portal"
        )
    now = now or timezone.now()
    roles = roles_of(user)
    everything = bool({Role.ADMIN, Role.AUDITOR} & set(roles))
    read_only = Role.AUDITOR in roles and Role.ADMIN not in roles and len(roles) == 1
    wanted: list[str] = []
    for key, section_roles, _builder in SECTIONS:
        if key not in wanted and (everything or set(section_roles) & set(roles)):
            wanted.append(key)
    builders: dict[str, Builder] = {key: builder for key, _r, builder in SECTIONS}
    memo: Memo = {}
    sections = [alerts_section(user, now, memo)]
    sections += [builders[key](user, now, memo) for key in wanted]
    return Work(roles=roles, sections=sections, everything=everything, read_only=read_only, now=now)


def first(qs: Any, n: int = TOP) -> list[Any]:
    return list(qs[:n])
