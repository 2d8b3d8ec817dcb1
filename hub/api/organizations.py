"""REST endpoints for organizations and their members."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from hub import selectors
from hub.api.permissions import TokenScope, require_token_organization
from hub.api.serializers import OrganizationSerializer
from hub.models import Membership, Role
from hub.permissions import can_view_organization
from hub.services import organizations as services


class OrganizationCreateSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=64, required=False, help_text="Default: made from the name.")
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]
        read_only_fields = fields


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class OrganizationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Organizations you belong to. Anyone signed in may create one and becomes its owner."""

    permission_classes = [IsAuthenticated, TokenScope]
    serializer_class = OrganizationSerializer
    lookup_field = "slug"
    search_fields = ["slug", "name"]

    def get_queryset(self):
        return selectors.organizations_of(self.request.user).order_by("slug")

    @extend_schema(request=OrganizationCreateSerializer, responses={201: OrganizationSerializer})
    def create(self, request, *args, **kwargs):
        incoming = OrganizationCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        organization = services.create_organization(owner=request.user, **incoming.validated_data)
        return Response(OrganizationSerializer(organization).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["get"], responses={200: MembershipSerializer(many=True)})
    @extend_schema(methods=["post"], request=MemberAddSerializer, responses={201: MembershipSerializer})
    # The members come as one list: neither paginated nor filtered.
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def members(self, request, slug=None):
        """List the members, or add one (owners and admins)."""
        organization = self.get_object()
        if request.method == "GET":
            return Response(MembershipSerializer(selectors.members_of(organization), many=True).data)
        require_token_organization(request, organization)
        incoming = MemberAddSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        membership = services.add_member(
            actor=request.user, organization=organization, **incoming.validated_data
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["patch"], request=MemberRoleSerializer, responses={200: MembershipSerializer})
    @extend_schema(methods=["delete"], request=None, responses={204: None})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<username>[\w.@+-]+)")
    def member(self, request, slug=None, username=None):
        """Change a member's role, or remove the member (a member may also leave)."""
        organization = self.get_object()
        require_token_organization(request, organization)
        if not can_view_organization(request.user, organization):
            raise NotFound()
        membership = get_object_or_404(Membership, organization=organization, user__username=username)
        if request.method == "DELETE":
            services.remove_member(actor=request.user, membership=membership)
            return Response(status=status.HTTP_204_NO_CONTENT)
        incoming = MemberRoleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        membership = services.change_role(
            actor=request.user, membership=membership, role=incoming.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data)
