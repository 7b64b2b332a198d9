from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from core import ids  # noqa: F401  (registers the `<id:…>` path converter)
