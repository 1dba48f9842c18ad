"""The session store and the auth backend read their rows by hand-written statements
(accounts/sessions.py, accounts/backends.py): what they read must be what Django's read."""

from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, get_user
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.test import RequestFactory
from django.utils import timezone

from accounts.backends import ModelBackend
from accounts.models import User
from accounts.sessions import SessionStore
from tests import factories

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_a_session_reads_what_djangos_store_reads_in_one_query(django_assert_num_queries):
    written = DjangoSessionStore()
    written["answer"] = 42
    written.create()

    store = SessionStore(written.session_key)
    with django_assert_num_queries(1):
        assert store["answer"] == 42
    assert fields(store._get_session_from_db()) == fields(Session.objects.get(pk=written.session_key))


def test_an_expired_or_unknown_session_is_empty_and_its_key_forgotten():
    written = DjangoSessionStore()
    written["answer"] = 42
    written.create()
    Session.objects.filter(pk=written.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))

    for key in (written.session_key, "no-such-session-key-0123456789ab"):
        store = SessionStore(key)
        assert store.load() == {}
        assert store.session_key is None


def test_the_backend_reads_the_user_as_the_orm_does_and_refuses_inactive_ones(django_assert_num_queries):
    user = factories.user("reader")
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])

    with django_assert_num_queries(1):
        found = ModelBackend().get_user(user.pk)
    assert fields(found) == fields(User.objects.get(pk=user.pk))
    assert ModelBackend().get_user(user.pk + 10_000) is None
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert ModelBackend().get_user(user.pk) is None


def test_a_signed_in_request_is_served_by_both(client):
    user = factories.user("signed-in")
    client.force_login(user)

    request = RequestFactory().get("/")
    request.session = SessionStore(client.cookies["sessionid"].value)
    assert request.session[BACKEND_SESSION_KEY] == "accounts.backends.ModelBackend"
    assert request.session.get_expiry_date() > timezone.now()
    assert get_user(request) == user
