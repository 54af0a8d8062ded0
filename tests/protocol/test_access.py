"""The role each request needs (protocol/access.py): every request type is in the table."""

from __future__ import annotations

import pytest

from supervisord_lite.protocol import access
from supervisord_lite.protocol import messages as m
from supervisord_lite.vocabulary import AccessRole


def _request_types() -> list[type[m.Request]]:
    found: list[type[m.Request]] = []
    todo = list(m.Request.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", _request_types(), ids=lambda c: c.__name__)
def test_every_request_type_is_classified(cls: type[m.Request]) -> None:
    assert cls in access.NEEDS, f"{cls.__name__}: add it to protocol/access.py NEEDS"


def test_a_read_connection_may_look_but_not_act() -> None:
    assert access.allows(AccessRole.READ, m.Status())
    assert access.allows(AccessRole.READ, m.Ping())
    assert access.allows(AccessRole.READ, m.Reload(dry_run=True))
    assert not access.allows(AccessRole.READ, m.Reload())
    assert not access.allows(AccessRole.READ, m.Stop(names=("web",)))
    assert not access.allows(AccessRole.READ, m.Shutdown())


def test_a_control_connection_may_do_everything() -> None:
    for request in (m.Status(), m.Stop(names=("web",)), m.Reload(), m.Shutdown()):
        assert access.allows(AccessRole.CONTROL, request)
