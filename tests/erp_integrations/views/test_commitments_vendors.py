"""The Commitments tool offers the directory's vendors and says which are not in the ERP yet."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from tests import factories
from tests.erp_integrations.views.commitments_world import build_world

pytestmark = pytest.mark.embedded


@pytest.mark.django_db
def test_the_commitment_form_says_which_vendors_are_not_in_the_erp_yet():
    world = build_world()
    factories.vendor(company=world.project.company, name="Granite Ridge", synced=False)
    factories.vendor(company=factories.company(), name="Elsewhere Ltd", synced=False)

    response = world.client(world.pm).get(reverse("commitment_create", args=[world.project.pk]))

    assert response.status_code == HTTPStatus.OK
    options = re.findall(r'<option value="\d+"[^>]*>([^<]*)</option>', response.content.decode())
    assert options == sorted([world.vendor.name, "Granite Ridge (not in Sage 300 CRE® yet)"])
    assert "exported only once it is linked on the ERP Integrations tool's Companies tab" in (
        response.content.decode().replace("&#x27;", "'")
    )
