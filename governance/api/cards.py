"""REST endpoints for model cards: one per model version, looked up by the version's id."""

from __future__ import annotations

import json
from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response

from governance import cards
from governance.models import ModelCard
from governance.services import update_model_card
from hub.api.permissions import TokenScope, require_token_organization
from hub.datasheets import MAX_SECTION_CHARS
from hub.models import ModelVersion
from hub.selectors import model_versions_visible_to


class MarkdownRenderer(renderers.BaseRenderer):
    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        # Errors (404, 401) arrive as dicts; the README itself as text.
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        return text.encode(self.charset)


class ModelCardSectionsSerializer(serializers.Serializer):
    """The owners' prose, one Markdown text per section of Mitchell et al."""

    def get_fields(self):
        fields = super().get_fields()
        for section in cards.SECTIONS:
            generated = f" Generated from {section.generated_from} below it." if section.generated else ""
            fields[section.key] = serializers.CharField(
                required=False, allow_blank=True, max_length=MAX_SECTION_CHARS,
                help_text=f"{section.title}: {' '.join(section.questions)}{generated}",
            )  # fmt: skip
        return fields


class ModelCardGeneratedSerializer(serializers.Serializer):
    """Markdown generated from the records, for the sections the records fill (absent when empty)."""

    def get_fields(self):
        fields = super().get_fields()
        for section in cards.SECTIONS:
            if section.generated:
                fields[section.key] = serializers.CharField(
                    required=False, help_text=f"{section.title}, from {section.generated_from}."
                )
        return fields


class ModelCardChecklistItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    item = serializers.CharField()
    done = serializers.BooleanField()
    applicable = serializers.BooleanField(help_text="False for an item that does not apply (counts as done).")
    hint = serializers.CharField(help_text="What fills the item.")


class ModelCardSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="org/model@vN")
    version_id = serializers.IntegerField()
    completeness = serializers.FloatField(help_text="Done checklist items / checklist items, in [0, 1].")
    checklist = ModelCardChecklistItemSerializer(many=True)
    sections = ModelCardSectionsSerializer(help_text="The owners' prose (an empty text when not written).")
    generated = ModelCardGeneratedSerializer()
    readme = serializers.CharField(help_text="The README.md: Hugging Face YAML front matter, then Markdown.")
    updated_at = serializers.DateTimeField(allow_null=True, help_text="When the owners' prose last changed.")
    updated_by = serializers.CharField(allow_blank=True)


class ModelCardUpdateSerializer(serializers.Serializer):
    sections = ModelCardSectionsSerializer(
        help_text="Section key → Markdown text. PUT replaces every section (an absent one becomes empty); "
        "PATCH changes only the sections given. The sections may also be sent at the top level."
    )


def card_body(card: cards.Card) -> dict:
    return {
        "version": str(card.version),
        "version_id": card.version.pk,
        "completeness": card.completeness.score,
        "checklist": [asdict(item) for item in card.checklist],
        "sections": {key: card.owner_sections.get(key, "") for key in cards.SECTION_KEYS},
        "generated": card.generated,
        "readme": card.readme,
        "updated_at": card.updated_at,
        "updated_by": card.updated_by,
    }


def _site_url(request: Request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class ModelCardViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The model card of a model version you can see (Mitchell et al., 2019), as JSON or as README.md.

    The id is the model version's id. Owners (members who may write the model's organization)
    change the prose of the sections with PUT or PATCH.
    """

    permission_classes = [IsAuthenticatedOrReadOnly, TokenScope]
    serializer_class = ModelCardSerializer
    lookup_url_kwarg = "version_id"
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return model_versions_visible_to(self.request.user)

    def handle_exception(self, exc):
        # The README's errors are JSON like every other error of the API, not JSON labelled Markdown.
        if self.action == "readme":
            self.request.accepted_renderer = renderers.JSONRenderer()
            self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().handle_exception(exc)

    def _card_response(self, version: ModelVersion) -> Response:
        card = cards.card_of(version, self.request.user, base_url=_site_url(self.request))
        return Response(ModelCardSerializer(card_body(card)).data)

    def retrieve(self, request, *args, **kwargs):
        """The card: completeness, checklist, the owners' prose, the generated sections and the README."""
        return self._card_response(self.get_object())

    @extend_schema(request=ModelCardUpdateSerializer, responses={200: ModelCardSerializer})
    def update(self, request, *args, **kwargs):
        """Replace the owners' prose of every section."""
        return self._save(request, partial=False)

    @extend_schema(request=ModelCardUpdateSerializer, responses={200: ModelCardSerializer})
    def partial_update(self, request, *args, **kwargs):
        """Change the owners' prose of the sections given."""
        return self._save(request, partial=True)

    def _save(self, request: Request, partial: bool) -> Response:
        version = self.get_object()
        require_token_organization(request, version.model.organization)
        data = request.data
        # {"sections": {...}} as the card reads, or the sections at the top level.
        sections = data.get("sections", data) if isinstance(data, dict) else data
        if partial and isinstance(sections, dict):
            stored = ModelCard.objects.filter(model_version=version).values_list("sections", flat=True)
            sections = {**(stored.first() or {}), **sections}
        update_model_card(request.user, version, sections)
        return self._card_response(version)

    @extend_schema(
        responses={(200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, description="The README.md")}
    )
    @action(detail=True, methods=["get"], renderer_classes=[MarkdownRenderer], pagination_class=None)
    def readme(self, request, version_id=None):
        """The card as a Hugging Face README.md (YAML front matter, then Markdown)."""
        card = cards.card_of(self.get_object(), request.user, base_url=_site_url(request))
        response = Response(card.readme, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="README.md"'
        return response
