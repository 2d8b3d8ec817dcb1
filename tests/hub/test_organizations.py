"""Organizations and members: who may manage whom, and the organization always keeps an owner."""

from __future__ import annotations

import pytest

from hub.models import Membership, Organization, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_anyone_signed_in_creates_an_organization_and_owns_it(api_client_for):
    user = UserFactory()
    response = api_client_for(user).post("/api/v1/organizations/", {"name": "Blue Lab"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "blue-lab"
    assert Membership.objects.get(organization__slug="blue-lab").role == Role.OWNER


def test_duplicate_or_bad_slug_is_a_400(organization, api_client_for):
    client = api_client_for(UserFactory())
    assert (
        "slug" in client.post("/api/v1/organizations/", {"name": "x", "slug": "acme"}, format="json").json()
    )
    assert (
        "slug" in client.post("/api/v1/organizations/", {"name": "x", "slug": "Not OK"}, format="json").json()
    )
    assert Organization.objects.count() == 1


def test_admins_add_members_and_change_roles_but_only_owners_touch_owners(organization, owner, member_of,
                                                                          api_client_for):  # fmt: skip
    admin = member_of(organization, Role.ADMIN)
    newcomer = UserFactory(username="newcomer")
    client = api_client_for(admin)
    url = "/api/v1/organizations/acme/members/"
    assert client.post(url, {"username": "newcomer", "role": "member"}, format="json").status_code == 201
    assert client.post(url, {"username": "newcomer"}, format="json").status_code == 400  # already a member
    assert "username" in client.post(url, {"username": "ghost"}, format="json").json()
    assert client.patch(f"{url}newcomer/", {"role": "viewer"}, format="json").json()["role"] == "viewer"
    assert client.patch(f"{url}newcomer/", {"role": "owner"}, format="json").status_code == 403
    assert client.delete(f"{url}owner/").status_code == 403
    assert client.patch(f"{url}newcomer/", {"role": "emperor"}, format="json").status_code == 400
    owner_client = api_client_for(owner)
    assert owner_client.patch(f"{url}newcomer/", {"role": "owner"}, format="json").status_code == 200
    assert owner_client.delete(f"{url}newcomer/").status_code == 204
    assert not Membership.objects.filter(user=newcomer).exists()
    listed = client.get(url).json()
    assert {m["username"] for m in listed} == {"owner", admin.username}


def test_members_and_viewers_cannot_manage_members(organization, owner, member_of, api_client_for):
    for role in (Role.MEMBER, Role.VIEWER):
        client = api_client_for(member_of(organization, role))
        response = client.post("/api/v1/organizations/acme/members/", {"username": "owner"}, format="json")
        assert response.status_code in (400, 403)
        UserFactory(username=f"candidate-{role}")
        response = client.post(
            "/api/v1/organizations/acme/members/", {"username": f"candidate-{role}"}, format="json"
        )
        assert response.status_code == 403


def test_the_last_owner_cannot_leave_or_be_demoted(organization, owner, api_client_for):
    client = api_client_for(owner)
    response = client.delete("/api/v1/organizations/acme/members/owner/")
    assert response.status_code == 400
    assert "at least one owner" in " ".join(response.json()["role"])
    assert (
        client.patch(
            "/api/v1/organizations/acme/members/owner/", {"role": "admin"}, format="json"
        ).status_code
        == 400
    )
    assert Membership.objects.get(user=owner).role == Role.OWNER


def test_a_member_may_leave(organization, member_of, api_client_for):
    member = member_of(organization, Role.MEMBER)
    response = api_client_for(member).delete(f"/api/v1/organizations/acme/members/{member.username}/")
    assert response.status_code == 204


def test_outsiders_do_not_see_the_member_list(organization, owner, api_client_for):
    outsider = UserFactory()
    assert api_client_for(outsider).get("/api/v1/organizations/acme/members/").status_code == 404


def test_organization_page_member_management(client, organization, owner):
    UserFactory(username="carol")
    client.force_login(owner)
    page = client.get("/o/acme/")
    assert b"Add member" in page.content
    response = client.post("/o/acme/members/", {"username": "carol", "role": "viewer"})
    assert response.status_code == 302
    assert Membership.objects.get(user__username="carol").role == Role.VIEWER
    bad = client.post("/o/acme/members/", {"username": "nobody", "role": "viewer"})
    assert bad.status_code == 400
    assert "no active user" in bad.content.decode()
    client.post("/o/acme/members/carol/", {"action": "change", "role": "admin"})
    assert Membership.objects.get(user__username="carol").role == Role.ADMIN
    client.post("/o/acme/members/carol/", {"action": "remove"})
    assert not Membership.objects.filter(user__username="carol").exists()


def test_organization_create_page(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post("/organizations/new/", {"name": "Red Team", "slug": ""})
    assert response.status_code == 302
    assert Organization.objects.get(slug="red-team").memberships.get().user == user


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_non_admin_page_has_no_member_controls(client, organization, member_of, role):
    client.force_login(member_of(organization, role))
    assert b"Add member" not in client.get("/o/acme/").content


def test_reviewers_group_exists():
    from django.contrib.auth.models import Group

    from hub.models import REVIEWERS_GROUP

    assert Group.objects.filter(name=REVIEWERS_GROUP).exists()
