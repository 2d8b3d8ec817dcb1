"""Governance forms."""

from __future__ import annotations

from django import forms

from governance import cards
from hub.datasheets import MAX_SECTION_CHARS


class ModelCardForm(forms.Form):
    """One textarea per section of the model card, Mitchell et al.'s guiding questions as help text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for section in cards.SECTIONS:
            help_text = " ".join(section.questions)
            if section.generated:
                help_text += f" Generated from {section.generated_from}; your text is shown above that."
            self.fields[section.key] = forms.CharField(
                label=section.title,
                required=False,
                max_length=MAX_SECTION_CHARS,
                widget=forms.Textarea(attrs={"rows": 3 if section.generated else 5}),
                help_text=help_text,
            )
