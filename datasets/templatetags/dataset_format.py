"""Template filters of the dataset pages."""

from __future__ import annotations

from typing import Any

from django import template

from datasets.pages import format_number

register = template.Library()


@register.filter
def num(value: Any) -> str:
    """A short human number (thousands separators, about four significant digits)."""
    return format_number(value)
